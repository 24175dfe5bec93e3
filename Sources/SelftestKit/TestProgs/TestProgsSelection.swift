import Foundation
import SelftestCatalog

/// Which of a tree's test_progs tests a run asks for, in test_progs' own
/// selection syntax: a comma-separated list of `test` or `test/subtest`,
/// each part a glob (`task_local_storage/*`, `*storage*`).
public struct TestProgsSelection: Sendable, Equatable {
    public var patterns: [(test: String, subtest: String?)] {
        text.split(separator: ",").map { item in
            let parts = item.trimmingCharacters(in: .whitespaces).split(
                separator: "/", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : nil)
        }
    }
    public var text: String
    /// Lines of a `--test-progs-deny` file (test_progs' `@file` format: one
    /// `test` or `test/subtest` glob per line, `#` comments).
    public var deny: [String]

    public init(_ text: String, deny: [String] = []) throws {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if let bad = items.first(where: { $0.isEmpty || $0.hasPrefix("/") }) {
            throw SelftestError(
                .usage, .options,
                "--test-progs '\(text)' has an empty \(bad.isEmpty ? "item" : "test name in '\(bad)'")",
                input: "--test-progs '\(text)'",
                fix: "name tests as test_progs does: 'test', 'test/subtest', globs, comma-separated"
            )
        }
        self.text = items.joined(separator: ",")
        self.deny = deny
    }

    /// Reads a deny file; `#` starts a comment, blank lines are ignored.
    public static func denyList(at path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SelftestError(
                .usage, .options, "cannot read --test-progs-deny \(path)",
                input: "--test-progs-deny \(path)",
                fix: "pass a readable file with one 'test' or 'test/subtest' per line")
        }
        return text.split(separator: "\n").compactMap { line in
            let entry =
                line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                .first?.trimmingCharacters(in: .whitespaces) ?? ""
            return entry.isEmpty ? nil : entry
        }
    }

    /// One test_progs run the agent makes: a top-level test and the `-a`
    /// patterns that select it (or some of its subtests).
    public struct Entry: Sendable, Equatable {
        public var test: String
        public var allow: [String]
        public var name: String { "\(TestProgsOutput.suite)/\(test)" }
    }

    /// The entries for `available` tests, in test_progs' order; throws naming
    /// a pattern that matches no test (a typo must not pass as green).
    public func entries(available: [String]) throws -> [Entry] {
        var byTest: [String: [String]] = [:]
        for (test, subtest) in patterns {
            let matched = available.filter { fnmatch(test, $0, 0) == 0 }
            if matched.isEmpty {
                throw SelftestError(
                    .usage, .options,
                    "--test-progs: no test of this tree's test_progs matches '\(test)'",
                    input: "--test-progs '\(test)'",
                    fix: "run `selftests list --test-progs` to see its tests")
            }
            for name in matched {
                byTest[name, default: []].append(subtest.map { "\(name)/\($0)" } ?? name)
            }
        }
        return available.compactMap { test in
            guard let allow = byTest[test], !wholeTestDenied(test) else { return nil }
            // A whole-test pattern covers its subtest patterns.
            let narrowed = allow.contains(test) ? [test] : allow
            return Entry(test: test, allow: narrowed)
        }
    }

    /// A deny line without a subtest that matches the whole test: it is not
    /// run at all (rather than run to report that nothing ran).
    func wholeTestDenied(_ test: String) -> Bool {
        deny.contains { !$0.contains("/") && fnmatch($0, test, 0) == 0 }
    }

    /// The spec the agent runs for `entry`: test_progs' own selection (`-a`),
    /// the deny file when there is one, and its watchdog when it has one.
    public static func spec(
        for entry: Entry, timeout: Int, denyFile: String?, watchdog: Bool
    ) -> TestSpec {
        var arguments = entry.allow.flatMap { ["-a", $0] }
        if let denyFile { arguments += ["-d", "@\(denyFile)"] }
        // Its watchdog fires before the agent's bound, with a backtrace.
        if watchdog { arguments += ["-w", "\(max(1, timeout - 10))"] }
        var spec = TestSpec(
            entry.name, "the tree's test_progs: \(entry.allow.joined(separator: ","))",
            timeoutSeconds: timeout)
        spec.arguments = arguments
        return spec
    }
}

import Foundation

/// What in a failed `make test_progs` did not build, in terms of the files
/// that can be left out: a `prog_tests/X.c` that does not compile (or needs
/// a skeleton nothing makes), a `progs/Y.c` BPF program that does not
/// compile (and so every test that includes its skeleton). Anything else
/// (test_progs.c, libbpf, bpftool) cannot be left out: the build as a whole
/// failed. Pure: reads a log and file texts.
public struct TestProgsBreakage: Sendable, Equatable {
    /// `prog_tests` file name (`bpf_attr_size.c`) → why it cannot build.
    public var testFiles: [String: BuildError] = [:]
    /// `progs` file name (`foo.c`) → its compiler error.
    public var programs: [String: BuildError] = [:]
    /// The first error that neither explains: the whole build's failure.
    public var other: BuildError?

    public var isEmpty: Bool { testFiles.isEmpty && programs.isEmpty && other == nil }

    /// Reads every error in `log`. `prefixes` are stripped from file names.
    public static func analyze(log: String, stripping prefixes: [String]) -> TestProgsBreakage {
        var breakage = TestProgsBreakage()
        let parser = BuildOutput(stripping: prefixes)
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).map {
            BuildOutput.plain(String($0))
        }
        for (index, line) in lines.enumerated() {
            if let missing = noRule(line) {
                let error = BuildError(
                    file: nil, line: nil,
                    message: "make: no rule to make \(missing.target), needed by \(missing.test)")
                if breakage.testFiles[missing.test + ".c"] == nil {
                    breakage.testFiles[missing.test + ".c"] = error
                }
                continue
            }
            // Feature probing asks llvm-config for libraries that may not be
            // there, says `llvm-config: error: missing: …`, and goes on.
            if line.hasPrefix("llvm-config: ") { continue }
            guard var error = parser.diagnostic(line), let file = error.file else { continue }
            error.context = Array(lines[(index + 1)...].prefix(BuildOutput.contextLines))
            let name = URL(fileURLWithPath: file).lastPathComponent
            if file.contains("prog_tests/") && name.hasSuffix(".c") {
                if breakage.testFiles[name] == nil { breakage.testFiles[name] = error }
            } else if file.contains("progs/") && name.hasSuffix(".c") {
                if breakage.programs[name] == nil { breakage.programs[name] = error }
            } else if breakage.other == nil {
                breakage.other = error
            }
        }
        return breakage
    }

    /// `make: *** No rule to make target 'atomics.lskel.h', needed by '/o/atomics.test.o'.`
    static func noRule(_ line: String) -> (target: String, test: String)? {
        guard let range = line.range(of: "No rule to make target '") else { return nil }
        let rest = line[range.upperBound...]
        guard let close = rest.firstIndex(of: "'"),
            let needed = rest.range(of: "needed by '")
        else { return nil }
        let target = String(rest[..<close])
        let by = rest[needed.upperBound...].prefix { $0 != "'" }
        let object = URL(fileURLWithPath: String(by)).lastPathComponent
        guard object.hasSuffix(".test.o") else { return nil }
        return (target, String(object.dropLast(".test.o".count)))
    }

    /// The skeleton headers a `progs/Y.c` produces, which tests include.
    static func skeletons(of program: String) -> [String] {
        let base = program.hasSuffix(".c") ? String(program.dropLast(2)) : program
        return ["\(base).skel.h", "\(base).lskel.h", "\(base).subskel.h"]
    }

    /// The `prog_tests` files (name → text) that include a skeleton of a
    /// broken program, with the reason.
    public func dependents(in sources: [String: String]) -> [String: BuildError] {
        var found: [String: BuildError] = [:]
        for (program, error) in programs.sorted(by: { $0.key < $1.key }) {
            let headers = Self.skeletons(of: program)
            for (file, text) in sources where found[file] == nil && testFiles[file] == nil {
                guard headers.contains(where: { text.contains("\"\($0)\"") }) else { continue }
                found[file] = BuildError(
                    file: error.file, line: error.line,
                    message: "needs progs/\(program), which does not compile: \(error.message)",
                    context: error.context)
            }
        }
        return found
    }

    /// The test names a `prog_tests` file defines, as test_progs' Makefile
    /// finds them for `tests.h`: `void test_NAME(void)` or `void serial_test_NAME(void)`
    /// at the start of a line.
    public static func testNames(in text: String) -> [String] {
        var names: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("void ") {
            var rest = line.dropFirst(5)
            if rest.hasPrefix("serial_") { rest = rest.dropFirst(7) }
            guard rest.hasPrefix("test_") else { continue }
            rest = rest.dropFirst(5)
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            let after = rest.dropFirst(name.count)
            guard !name.isEmpty, after.hasPrefix("()") || after.hasPrefix("(void)") else {
                continue
            }
            names.append(String(name))
        }
        return names
    }

    /// The tests a built `tests.h` lists (`DEFINE_TEST(name)` lines).
    public static func builtTests(header: String) -> [String] {
        header.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("DEFINE_TEST("), line.hasSuffix(")") else { return nil }
            return String(line.dropFirst(12).dropLast())
        }
    }
}

import Foundation

/// A file the test_progs build left out, as it was when it failed.
struct LeftOutFile: Codable, Equatable, Sendable {
    /// Relative to the selftests directory: `prog_tests/x.c`, `progs/y.c`.
    var path: String
    var digest: String
    /// The tests it defined (none for a program).
    var tests: [String]
    var error: BuildError
}

/// What the last build left out and which test files it built from, kept
/// beside the output so the next build starts from there.
struct LeftOutMemory: Codable {
    var files: [LeftOutFile] = []
    var testFiles: [String] = []

    static func url(_ root: URL) -> URL { root.appendingPathComponent("left-out.json") }

    static func load(_ root: URL) -> LeftOutMemory {
        guard let data = FileManager.default.contents(atPath: url(root).path),
            let memory = try? DocumentJSON.decode(LeftOutMemory.self, from: data)
        else { return LeftOutMemory() }
        return memory
    }

    func save(_ root: URL) {
        if let data = try? DocumentJSON.data(self) { try? Cache.write(data, to: Self.url(root)) }
    }

    /// Removes again every remembered file whose content is unchanged;
    /// returns those.
    func reapply(in selftests: URL) -> [LeftOutFile] {
        files.filter { file in
            let url = selftests.appendingPathComponent(file.path)
            guard let data = FileManager.default.contents(atPath: url.path),
                SHA256.hex(bytes: data) == file.digest
            else { return false }
            try? FileManager.default.removeItem(at: url)
            return true
        }
    }
}

/// The tests a tree's test_progs has, read from its sources, and what the
/// last build of that tree left out.
public struct TestProgsListing: Sendable {
    /// Sorted, as `tests.h` lists them.
    public var tests: [String]
    /// Test → the first line of why its last build left it out.
    public var leftOut: [String: String]

    public static func read(tree: URL, cache: Cache) throws -> TestProgsListing {
        let directory = tree.appendingPathComponent(TestProgsBuilder.selftestsPath)
            .appendingPathComponent("prog_tests")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else {
            throw SelftestError(
                .usage, .tree, "\(tree.path) has no \(TestProgsBuilder.selftestsPath)/prog_tests",
                fix: "pass a kernel source tree that has the BPF selftests")
        }
        var tests: [String] = []
        for file in files where file.hasSuffix(".c") {
            let text =
                (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8))
                ?? ""
            tests += TestProgsBreakage.testNames(in: text)
        }
        let memory = LeftOutMemory.load(TestProgsBuilder.directory(for: tree, cache: cache))
        var leftOut: [String: String] = [:]
        for file in memory.files {
            for test in file.tests { leftOut[test] = file.error.description }
        }
        return TestProgsListing(tests: tests.sorted(), leftOut: leftOut)
    }
}

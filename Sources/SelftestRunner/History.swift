import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests history`: per test, what the results history holds.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per test: runs, pass rate, flips and the last failure, from the history.",
            discussion: """
                Every run, series step and bisect step is recorded in history.sqlite in the \
                cache (unless --no-history). A flip is an outcome change between consecutive \
                runs on the same kernel image. --json is what `run --shard K/N --durations \
                FILE` reads.
                """)

        @Argument(help: "Tests to show: a shell glob, e.g. 'storage/sk/*' (default: every test).")
        var test: String?

        @OptionGroup var selection: HistorySelection

        func run() throws {
            let runs = try selection.runs(glob: test)
            let histories = TestHistory.summarize(runs)
            if selection.json {
                FileHandle.standardOutput.write(
                    try DocumentJSON.data(HistoryExport(tests: histories)))
            } else {
                print(TestHistory.text(histories))
            }
        }
    }

    /// `selftests flakes`: tests whose outcome changed on one kernel image.
    struct Flakes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tests whose outcome changed between runs on the same kernel image.",
            discussion: """
                One line per test and kernel: runs, failures, flips, the last flip; the most \
                flips first. --json ({"flakes": [{test, flips, kernels: [...]}]}) is for \
                scripts: scripts/soak.sh, or a CI step deciding which failures to re-run.
                """)

        @OptionGroup var selection: HistorySelection

        func run() throws {
            let flakes = FlakyTest.detect(try selection.runs(glob: nil))
            if selection.json {
                FileHandle.standardOutput.write(try DocumentJSON.data(["flakes": flakes]))
            } else {
                print(FlakyTest.text(flakes))
            }
        }
    }
}

/// Which recorded runs `history` and `flakes` read.
struct HistorySelection: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only runs of this kernel: a bzImage path, or a prefix of its image digest.",
            valueName: "path|digest"))
    var kernel: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only runs since: a span before now (7d, 12h, 2w) or a date (2026-12-01).",
            valueName: "when"))
    var since: String?

    @Flag(name: .long, help: "Print JSON instead of the table.")
    var json = false

    @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
    var cacheDir: String?

    /// The verdicts selected, oldest first; none when nothing was recorded.
    func runs(glob: String?) throws -> [TestRun] {
        let cache = Cache(root: cacheDir.map { URL(fileURLWithPath: $0) } ?? Cache.defaultRoot())
        var query = HistoryQuery(glob: glob)
        query.since = try since.map { try HistoryQuery.since(parsing: $0) }
        if let kernel {
            // A file is named by its digest: "the same kernel" is the same image.
            var isDirectory: ObjCBool = false
            query.kernel =
                FileManager.default.fileExists(atPath: kernel, isDirectory: &isDirectory)
                    && !isDirectory.boolValue
                ? try FileDigests(store: nil).digest(of: kernel) : kernel
        }
        guard let store = try HistoryStore.existing(in: cache) else {
            FileHandle.standardError.write(
                Data(
                    ("selftests: no history yet in \(HistoryStore.location(in: cache).path): "
                        + "every run records one unless --no-history\n").utf8))
            return []
        }
        return try store.runs(of: query)
    }
}

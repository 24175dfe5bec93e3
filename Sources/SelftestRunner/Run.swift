import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests run`: the whole pipeline on one kernel.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile the programs, boot the kernel and run the tests (the default).")

        @OptionGroup(title: "Kernel") var kernel: KernelOptions

        @OptionGroup(title: "Tests") var tests: TestOptions

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Run only share K of N of the selected tests (1 ≤ K ≤ N).",
                discussion: "Stable and balanced (by --durations, else by count): N runners "
                    + "with --shard 1/N … N/N run the selection once between them; "
                    + "`selftests merge` joins their --json."))
        var shard: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "With --shard: balance the shares by these tests' durations.",
                discussion: "A merged --json report of an earlier run, or `selftests history "
                    + "--json` saved to a file. Give every runner the same FILE: merge refuses "
                    + "shards balanced by different durations. Without it: by count.",
                valueName: "file"))
        var durations: String?

        @Option(name: .long, help: "Write a JUnit XML report here.")
        var junit: String?

        @Option(name: .long, help: "Write a JSON report here.")
        var json: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Write the results as KernelCI KCIDB I/O JSON (schema 5.3) here.",
                discussion: "For `kcidb-submit`: a checkout, a build and a test per result."))
        var kcidb: String?

        @Flag(
            name: .long,
            help: ArgumentHelp(
                "Exit as `git bisect run` expects: 0 pass, 1 fail, 125 the kernel does not "
                    + "build (skip), 128 no verdict (abort).",
                discussion: "For `git bisect run selftests run --tree . --bisect-exit`; "
                    + "`selftests bisect` does all of it itself."))
        var bisectExit = false

        @OptionGroup(title: "Machine") var machine: MachineOptions

        @OptionGroup(title: "History") var history: HistoryOptions

        func validate() throws {
            if durations != nil && shard == nil {
                throw ValidationError("--durations balances the shares of --shard K/N")
            }
        }

        func run() throws {
            InterruptHandler.install()
            var options = RunOptions()
            kernel.apply(to: &options)
            machine.apply(to: &options)
            tests.apply(to: &options)
            history.apply(to: &options)
            options.shard = try shard.map { try Shard(parsing: $0) }
            if options.shard != nil {
                options.shardDurations = try Self.shardDurations(durations, options: options)
            }
            let color = machine.color
            let outcome: RunOutcome
            do {
                try ReportFiles.check([("--junit", junit), ("--json", json), ("--kcidb", kcidb)])
                var pipeline = RunPipeline.forTerminal(options, color: color)
                let partial = PartialRun(
                    wrapping: pipeline.observer,
                    kernel: options.kernel ?? options.tree ?? "the default kernel",
                    selected: try TestBench.selectTests(
                        filter: options.filter, shard: options.shard,
                        durations: options.shardDurations
                    )
                    .map(\.name))
                pipeline.observer = partial
                let token = InterruptHandler.register { [junit, json] in
                    Self.writePartialReports(partial, junit: junit, json: json)
                }
                defer { InterruptHandler.remove(token) }
                outcome = try pipeline.evaluate()
            } catch let error as SelftestError where bisectExit {
                // Anything but a verdict must stop `git bisect run`, not mark a commit.
                InterruptHandler.reapAll()
                FileHandle.standardError.write(Data("selftests: error: \(error)\n".utf8))
                throw ExitCode(128)
            }
            var report = outcome.report
            if options.history {
                // Classified against the runs before it, then recorded;
                // a store that fails says so and changes nothing else.
                report = HistoryRecorder(cache: Self.cache(options)).classifyAndRecord(
                    report, kind: options.shard.map { .shard($0) } ?? .run)
            }
            // A report that cannot be written is said; the run's own status stands.
            ReportFiles.write([
                ("--junit", junit, { Data(JUnitReport.xml(for: report).utf8) }),
                ("--json", json, { try JSONReport.data(for: report) }),
                ("--kcidb", kcidb, { try KCIDBReport.data(for: report) }),
            ])
            print(TerminalReport.summary(for: report, color: color))
            if bisectExit { throw ExitCode(outcome.bisectExitCode) }
            throw ExitCode(report.exitCode)
        }

        static func cache(_ options: RunOptions) -> Cache {
            Cache(root: options.cacheDirectory ?? Cache.defaultRoot())
        }

        /// What `--shard` balances by: `--durations FILE`, else nothing
        /// (count). Never the local history on its own: it changes between
        /// two shards' runs (the first records its run before the second
        /// starts, on one host as on a runner with a kept cache), so shards
        /// would split by different durations; `selftests history --json >
        /// F` then `--durations F` takes one snapshot all shards share.
        static func shardDurations(_ file: String?, options: RunOptions) throws
            -> ShardDurations?
        {
            let selection = try TestBench.selectTests(filter: options.filter).map(\.name)
            guard let durations = try file.map({ try ShardDurations.load($0) }),
                let digest = durations.digest(for: selection)
            else { return nil }
            FileHandle.standardError.write(
                Data(
                    ("selftests: shares balanced by the durations of \(durations.source) "
                        + "(digest \(digest.prefix(12))); every runner needs the same\n").utf8))
            return durations
        }

        /// On an interrupt: the reports of what finished, the rest `not-run`.
        private static func writePartialReports(
            _ partial: PartialRun, junit: String?, json: String?
        ) {
            guard junit != nil || json != nil else { return }
            let report = partial.report(interruptedBecause: InterruptHandler.cause ?? "interrupted")
            let failed = ReportFiles.write([
                ("--junit", junit, { Data(JUnitReport.xml(for: report).utf8) }),
                ("--json", json, { try JSONReport.data(for: report) }),
            ])
            let written = [("--junit", junit), ("--json", json)].filter {
                $0.1 != nil && !failed.contains($0.0)
            }
            if !written.isEmpty {
                let names = written.map { "\($0.0) \($0.1 ?? "")" }.joined(separator: ", ")
                FileHandle.standardError.write(
                    Data(
                        ("selftests: wrote what finished, the rest not-run: \(names)\n").utf8))
            }
        }
    }
}

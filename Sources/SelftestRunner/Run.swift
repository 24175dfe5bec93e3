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
                discussion: "Stable and balanced: N runners with --shard 1/N … N/N run the "
                    + "selection once between them; `selftests merge` joins their --json."))
        var shard: String?

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

        func run() throws {
            InterruptHandler.install()
            var options = RunOptions()
            kernel.apply(to: &options)
            machine.apply(to: &options)
            tests.apply(to: &options)
            options.shard = try shard.map { try Shard(parsing: $0) }
            let color = machine.color
            let outcome: RunOutcome
            do {
                try ReportFiles.check([("--junit", junit), ("--json", json), ("--kcidb", kcidb)])
                var pipeline = RunPipeline.forTerminal(options, color: color)
                let partial = PartialRun(
                    wrapping: pipeline.observer,
                    kernel: options.kernel ?? options.tree ?? "the default kernel",
                    selected: try TestBench.selectTests(
                        filter: options.filter, shard: options.shard
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
            let report = outcome.report
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

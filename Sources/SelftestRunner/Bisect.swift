import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests bisect`: the first commit that breaks the selected tests.
    struct Bisect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the first commit of GOOD..BAD that breaks the selected tests.",
            discussion: """
                Checks first that --bad fails (re-running what fails, --retries) and --good \
                passes the tests that failed there; then drives git bisect in the tree's \
                worktree under the cache (your checkout is never touched). Each step is an \
                incremental build; a commit that does not build is skipped; a step is bad \
                only if the failure seen at --bad shows again (same test, same kind), good \
                only if every try passes. Prints the first bad commit with its evidence, the \
                number of builds and the git bisect log.

                Exit status: 0 found; 1 skipped commits hide it; 2 bad usage or input (a ref \
                that names nothing, --good failing, --bad passing); 3 the runner failed; 130 \
                interrupted.
                """)

        @OptionGroup(title: "Bisect") var tree: TreeOptions

        @Option(name: .long, help: "A commit where the selected tests pass.")
        var good: String

        @Option(name: .long, help: "A later commit where they fail.")
        var bad: String

        @OptionGroup(title: "Tests") var tests: TestOptions

        @Option(name: .long, help: "Write every step and the first bad commit as JSON.")
        var json: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Write every commit tested as KernelCI KCIDB I/O JSON (schema 5.3) here.",
                discussion: "A checkout per commit, a build per step, a test per result."))
        var kcidb: String?

        @OptionGroup(title: "Machine") var machine: MachineOptions

        @OptionGroup(title: "History") var history: HistoryOptions

        func run() throws {
            InterruptHandler.install()
            try ReportFiles.check([("--json", json), ("--kcidb", kcidb)])
            var options = RunOptions()
            tree.apply(to: &options)
            machine.apply(to: &options)
            tests.apply(to: &options)
            history.apply(to: &options)
            let terminal = SeriesTerminal(color: machine.color)
            let report = try TreePipeline.forTerminal(options, tree: tree, terminal: terminal)
                .bisect(good: good, bad: bad)
            ReportFiles.write([
                ("--json", json, { try report.json() }),
                ("--kcidb", kcidb, { try KCIDBReport.data(for: report) }),
            ])
            print(BisectText.text(report))
            throw ExitCode(report.exitCode)
        }
    }
}

import ArgumentParser
import Foundation
import SelftestKit
import Synchronization

extension Selftests {
    /// `selftests series`: every patch of a series built, booted and tested.
    struct Series: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build, boot and test the base and every patch of a series; name the "
                + "first bad patch of each regressed test.",
            discussion: """
                The series comes from an mbox (--mbox: `b4 am` output or a list archive's \
                thread; the cover letter is skipped) applied with git am --3way, or from \
                commits already in the tree (--range BASE..TIP). Everything happens in a git \
                worktree under the cache, one per tree, so your checkout, index and branches \
                are never touched and each step's build is incremental. A test that newly \
                fails is re-run (--retries) before it is called a regression; one that \
                passes on a re-run is flaky. A patch whose kernel is byte-identical to an \
                earlier step's is not booted again; a step the results history holds \
                whole results for (same tree, config, tests, programs, agent and machine; \
                a re-applied v2 of a patch is the same tree) is neither built nor booted, \
                and says which run it reused (--fresh: run it anyway).

                Exit status: 0 no regression and every patch built; 1 a regression or a \
                patch that does not build; 2 bad usage or input (an unreadable mbox, a \
                patch that does not apply, an unknown ref); 3 the runner failed; 130 \
                interrupted.
                """)

        @OptionGroup(title: "Series") var tree: TreeOptions

        @Option(name: .long, help: "The series as an mbox file.")
        var mbox: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "With --mbox: the commit to apply on (default: the mbox's base-commit: "
                    + "trailer when the tree has it, else HEAD)."))
        var base: String?

        @Option(name: .long, help: "Commits already in the tree: BASE..TIP.")
        var range: String?

        @OptionGroup(title: "Tests") var tests: TestOptions

        @Option(name: .long, help: "Write the steps, verdicts and regressions as JSON.")
        var json: String?

        @Option(name: .long, help: "Write JUnit XML: one testsuite per step.")
        var junit: String?

        @Option(
            name: .long,
            help: "Write the matrix and verdicts as plain text for a mailing-list reply.")
        var markdown: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Write every step as KernelCI KCIDB I/O JSON (schema 5.3) here.",
                discussion: "A checkout per commit, a build per step, a test per result."))
        var kcidb: String?

        @Option(
            name: .customLong("b4-check"),
            help: ArgumentHelp(
                "Write the per-patch results for `b4 review`.",
                discussion: "Then set b4.review-perpatch-check-cmd to "
                    + "`selftests b4-check FILE`."))
        var b4Check: String?

        @OptionGroup(title: "Machine") var machine: MachineOptions

        @OptionGroup(title: "History") var history: HistoryOptions

        @Flag(
            name: .long,
            help: ArgumentHelp(
                "Build, boot and test every step, even one the history already has results for.",
                discussion: "Without it, a step whose tree (git's tree hash, so a re-applied "
                    + "patch counts as the same), config, tests, programs, agent and machine "
                    + "were tested before, completely, takes those results: no build, no boot."
            ))
        var fresh = false

        func validate() throws {
            if (mbox == nil) == (range == nil) {
                throw ValidationError("give the series as --mbox FILE or as --range BASE..TIP")
            }
            if base != nil && mbox == nil {
                throw ValidationError("--base goes with --mbox (a --range names its own base)")
            }
        }

        func run() throws {
            InterruptHandler.install()
            try ReportFiles.check([
                ("--json", json), ("--junit", junit), ("--markdown", markdown),
                ("--b4-check", b4Check), ("--kcidb", kcidb),
            ])
            var options = RunOptions()
            tree.apply(to: &options)
            machine.apply(to: &options)
            tests.apply(to: &options)
            history.apply(to: &options)
            options.fresh = fresh
            let source: SeriesSource =
                if let mbox { .mbox(URL(fileURLWithPath: mbox), base: base) } else {
                    .range(range ?? "")
                }
            let terminal = SeriesTerminal(color: machine.color)
            let report = try TreePipeline.forTerminal(options, tree: tree, terminal: terminal)
                .series(source)
            ReportFiles.write([
                ("--json", json, { try report.json() }),
                ("--junit", junit, { Data(JUnitReport.xml(for: report).utf8) }),
                ("--markdown", markdown, { Data(SeriesText.markdown(report).utf8) }),
                ("--b4-check", b4Check, { try Self.b4Check(report) }),
                ("--kcidb", kcidb, { try KCIDBReport.data(for: report) }),
            ])
            print(SeriesText.text(report))
            throw ExitCode(report.exitCode)
        }

        static func b4Check(_ report: SeriesReport) throws -> Data {
            let git = Git(URL(fileURLWithPath: report.worktree))
            var ids: [String: String] = [:]
            for step in report.steps where step.position > 0 {
                ids[step.commit] = try git.patchId(commit: step.commit)
            }
            return try B4Check.make(report, patchIds: ids).json()
        }
    }

    /// `selftests b4-check FILE`: the command `b4 review` runs per patch.
    struct B4CheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "b4-check",
            abstract: "Print, for the patch on stdin, the results a `series --b4-check` wrote.",
            discussion: """
                For b4's review-perpatch-check-cmd: b4 pipes each patch in as a mail and \
                reads a JSON array of {tool, status, summary, details}. The patch is found \
                by Message-ID, else by `git patch-id --stable`, else by subject; an \
                unknown patch prints [].
                """)

        @Argument(help: "The file `selftests series --b4-check FILE` wrote.")
        var results: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: results) else {
                throw SelftestError(
                    .usage, .reports, "cannot read \(results)",
                    fix: "write it first: selftests series ... --b4-check \(results)")
            }
            let check = try B4Check.decode(data)
            let mail = FileHandle.standardInput.readDataToEndOfFile()
            let git = Git(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            let scratch = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-b4-\(getpid())")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let file = scratch.appendingPathComponent("mail")
            try mail.write(to: file)
            let info = try? PatchMail.info(file, scratch: scratch, git: git)
            let results = check.results(
                messageId: info?.messageID, patchId: try? git.patchId(of: mail),
                subject: info?.title)
            FileHandle.standardOutput.write(try B4Check.array(results))
        }
    }
}

extension TreePipeline {
    /// The pipeline as `series` and `bisect` run it: steps and tests on
    /// stdout, notes and build progress on stderr.
    static func forTerminal(_ options: RunOptions, tree: TreeOptions, terminal: SeriesTerminal)
        -> TreePipeline
    {
        var pipeline = TreePipeline(options: options, observer: terminal, runObserver: terminal)
        pipeline.retries = tree.retries
        pipeline.buildObserver = TerminalBuildObserver(interactive: isatty(2) == 1)
        return pipeline
    }
}

/// A series or bisect on the terminal: a header line per step, each test
/// as it finishes (prefixed with the step), a line per finished step.
final class SeriesTerminal: SeriesObserver, RunObserver {
    let color: Bool
    private let label = Mutex("")

    init(color: Bool) { self.color = color }

    func note(_ text: String) {
        FileHandle.standardError.write(Data("selftests: \(text)\n".utf8))
    }

    func finished(_ record: TestRecord) {
        let prefix = label.withLock { $0 }
        print("[\(prefix)] " + TerminalReport.line(for: record, color: color))
        fflush(nil)
    }

    func started(_ step: SeriesCommit, label: String) {
        self.label.withLock { $0 = label }
        let what =
            step.position == 0 && label.contains("/") ? "base: " + step.subject : step.subject
        print("[\(label)] \(step.commit.prefix(12)) \(what)")
        fflush(nil)
    }

    func retrying(_ tests: [String], attempt: Int, of retries: Int) {
        let prefix = label.withLock { $0 }
        print("[\(prefix)] re-run \(attempt) of \(retries): \(tests.joined(separator: ", "))")
        fflush(nil)
    }

    func finished(_ step: SeriesStep, label: String, verdict: String?) {
        print("[\(label)] " + SeriesText.stepLine(step) + (verdict.map { " · " + $0 } ?? ""))
        fflush(nil)
    }
}

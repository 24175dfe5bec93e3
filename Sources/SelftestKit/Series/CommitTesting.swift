import Foundation
import SelftestCatalog

/// What a series or a bisect does at each commit: build the worktree, keep
/// the kernel, run tests on it. `TestBench` in real runs; scripted fakes in
/// the unit tests of the drivers.
public protocol CommitTesting: Sendable {
    /// The selected tests' names, in catalog order.
    var testNames: [String] { get }
    /// Builds whatever `tree` has checked out, incrementally.
    func build(tree: URL) throws -> KernelBuildResult
    /// The kernel of `product`, its image copied into `directory` so that
    /// the next build does not overwrite what this step booted.
    func keep(_ product: KernelBuildProduct, in directory: URL) throws -> KernelUnderTest
    /// Runs the named tests on `kernel`, artifacts under `directory`.
    func run(kernel: KernelUnderTest, tests: [String], in directory: URL) throws -> RunReport
    /// The tree's paths the kernel build does not read.
    var unbuiltPaths: UnbuiltPaths { get }
    /// The tree's paths tests are built from (the tree's own test_progs):
    /// a change there changes results even when the kernel stays the same.
    var testInputs: [String] { get }
    /// Everything besides the tree's content that makes a step's verdicts
    /// what they are (config fragments, tests and their bounds, programs
    /// and their compiler, the agent, the machine), as one digest. Nil:
    /// a step's results are never reused from the history.
    var reuseInputs: String? { get }
}

extension CommitTesting {
    public var unbuiltPaths: UnbuiltPaths { UnbuiltPaths() }
    public var testInputs: [String] { [] }
    public var reuseInputs: String? { nil }
}

/// Where a series or bisect reports as it goes.
public protocol SeriesObserver: Sendable {
    func note(_ text: String)
    /// A step begins: its commit, and what to call it (`2/4`, `bad`, `step 3`).
    func started(_ step: SeriesCommit, label: String)
    /// Some tests of the step run again on the same kernel.
    func retrying(_ tests: [String], attempt: Int, of retries: Int)
    /// A step ended; `verdict` is a bisect's mark and its reason.
    func finished(_ step: SeriesStep, label: String, verdict: String?)
}

extension TestBench: CommitTesting {
    /// The catalog's selected tests, then `test_progs` when the run selects
    /// some of the tree's own: which of those each commit has is known only
    /// once its test_progs is built.
    public var testNames: [String] {
        tests.map(\.name) + (options.testProgs == nil ? [] : [TestProgsOutput.suite])
    }

    public var unbuiltPaths: UnbuiltPaths { UnbuiltPaths(configs: options.configs) }

    public var testInputs: [String] {
        options.testProgs == nil ? [] : TestProgsBuilder.copiedPaths
    }

    public func keep(_ product: KernelBuildProduct, in directory: URL) throws -> KernelUnderTest {
        let copy = directory.appendingPathComponent("bzImage")
        try Cache.produce(copy) { temp in
            try FileManager.default.copyItem(
                at: URL(fileURLWithPath: product.bzImage), to: temp)
        }
        var kept = product
        kept.bzImage = copy.path
        return try KernelUnderTest.built(kept, digests: digests)
    }

    public func run(kernel: KernelUnderTest, tests names: [String], in directory: URL) throws
        -> RunReport
    {
        let wanted = Set(names)
        let suite = TestProgsOutput.suite
        return try run(
            kernel: kernel, tests: tests.filter { wanted.contains($0.name) },
            testProgs: wanted.contains(suite)
                ? .all : .only(wanted.filter { $0.hasPrefix(suite + "/") }),
            in: directory)
    }
}

/// Drives a tree's worktree commit by commit: a series (the base, then
/// every patch) or a bisect (the commits `git bisect` picks). Each step
/// checks out, builds incrementally, keeps the kernel and runs tests on it.
public struct CommitDriver: Sendable {
    public var tester: CommitTesting
    public var worktree: Worktree
    /// Re-runs of a failure on the same kernel before it counts.
    public var retries: Int
    public var observer: SeriesObserver
    /// The run directory: one subdirectory per step.
    public var directory: URL
    /// Where each run of a step (re-runs included) is recorded; nil: nowhere.
    public var history: HistoryRecorder?
    /// Whether a series step always runs, even when the history holds the
    /// results of the same tree under the same inputs (`--fresh`).
    public var fresh = false

    public init(
        tester: CommitTesting, worktree: Worktree, retries: Int, observer: SeriesObserver,
        directory: URL
    ) {
        self.tester = tester
        self.worktree = worktree
        self.retries = retries
        self.observer = observer
        self.directory = directory
    }

    /// The first half of every step: check out `commit`, build it, keep its
    /// kernel in the step's directory. The step so far, and its kernel (nil
    /// when the build failed).
    func build(_ commit: SeriesCommit, name: String? = nil, clock: PhaseClock) throws -> (
        SeriesStep, KernelUnderTest?
    ) {
        let dir = try stepDirectory(commit, name: name)
        try worktree.checkout(commit.commit)
        clock.end("checkout")
        var step = SeriesStep(
            position: commit.position, subject: commit.subject, commit: commit.commit,
            messageId: commit.messageId, build: StepBuild(built: false, seconds: 0), kernel: nil,
            carriedFrom: nil, reused: nil, verdicts: [], run: nil, retryRuns: [], seconds: [:],
            directory: dir.path)
        let result = try tester.build(tree: worktree.path)
        step.build.seconds = clock.end("build")
        switch result {
        case .failed(let failure):
            step.build.error = failure.message
            step.build.log = Self.keepLog(failure.log, in: dir)
            return (step, nil)
        case .built(let product):
            step.build.built = true
            step.build.steps = product.steps
            step.build.log = Self.keepLog(product.log, in: dir)
            let kernel = try tester.keep(product, in: dir)
            step.kernel = kernel.identity
            clock.end("keep")
            return (step, kernel)
        }
    }

    /// The step's directory under the run's, made: `step-02`, or `name`.
    func stepDirectory(_ commit: SeriesCommit, name: String? = nil) throws -> URL {
        let dir = directory.appendingPathComponent(
            name ?? String(format: "step-%02d", commit.position))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Copies a build log into the step's directory (the build directory
    /// keeps only the last one); the original's path if it cannot.
    static func keepLog(_ log: String, in dir: URL) -> String {
        let copy = dir.appendingPathComponent("build.log")
        try? FileManager.default.removeItem(at: copy)
        guard (try? FileManager.default.copyItem(at: URL(fileURLWithPath: log), to: copy)) != nil
        else { return log }
        return copy.path
    }
}

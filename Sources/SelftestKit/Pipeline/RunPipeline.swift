import Foundation
import SelftestCatalog

/// What `selftests run` was asked to do.
public struct RunOptions: Sendable {
    public var kernel: String?
    public var vmlinux: String?
    public var filter: String?
    public var accelerator: AcceleratorChoice.Request = .auto
    public var cacheDirectory: URL?
    public var progsDirectory: URL?
    public var agent: String?
    public var bootTimeout: Double = 60
    public var runTimeout: Double = 1800
    /// Overrides every test's own bound when set.
    public var testTimeout: Int?
    /// Seconds the host waits past a test's bound before it calls the guest stuck.
    public var watchdogGrace: Double = 15
    public var memoryMiB = 1024
    public var cpus = 2
    public var tcgThreading: TCGThreading = .single
    /// Guests booted at once, the tests split between them (`--jobs`); nil:
    /// as many as the host's cores keep busy and its memory holds.
    public var jobs: Int?
    /// A kernel source tree to build and test instead of `kernel`.
    public var tree: String?
    /// Seconds a kernel build may take.
    public var buildTimeout: Double = 3 * 3600
    /// Config fragments on top of `bpf-minimal` for `tree` (names or files).
    public var configs: [String] = []
    /// Tests of the tree's own test_progs to run (its selection syntax).
    public var testProgs: String?
    /// A deny list for them, in test_progs' `@file` format.
    public var testProgsDeny: String?
    /// This runner's share of the selected tests (`--shard K/N`).
    public var shard: Shard?
    /// What `shard` balances by; nil: by count.
    public var shardDurations: ShardDurations?
    /// Whether runs are recorded in the results history (`--no-history`: not).
    public var history = true
    /// Whether a series runs every step even when the history holds its
    /// results (`--fresh`).
    public var fresh = false

    public init() {}
}

/// Where the pipeline reports progress: notes, and each test as it ends.
/// With several guests the calls come from their threads, one at a time.
public protocol RunObserver: Sendable {
    func note(_ text: String)
    func finished(_ record: TestRecord)
}

/// How a single-kernel run ended.
public enum RunOutcome: Sendable {
    case ran(RunReport)
    /// The tree did not compile; the report has every test as `build-error`.
    case kernelDidNotBuild(KernelBuildFailure, RunReport)

    public var report: RunReport {
        switch self {
        case .ran(let report), .kernelDidNotBuild(_, let report): report
        }
    }

    /// `git bisect run`'s codes: 0 good, 1 bad, 125 the kernel does not
    /// build (skip), 128 no verdict (abort; the runner failed, the guest
    /// gave no answer for a test, or the run's bound left a test unrun).
    public var bisectExitCode: Int32 {
        switch self {
        case .kernelDidNotBuild: return 125
        case .ran(let report):
            let noVerdict: Set<Outcome> = [.infraError, .notRun]
            if report.records.contains(where: { noVerdict.contains($0.outcome) }) { return 128 }
            return report.exitCode
        }
    }
}

/// The whole pipeline once: kernel → BTF → progs → image → VM → verdicts.
public struct RunPipeline: Sendable {
    public var options: RunOptions
    public var observer: RunObserver
    /// Where a tree's build shows its progress; nil: as notes to `observer`.
    public var buildObserver: (any KernelBuildObserver)?
    /// How QEMU and make are started and time is kept: the real host, or a
    /// test's fakes.
    public var host: HostContext = .live

    public init(options: RunOptions, observer: RunObserver) {
        self.options = options
        self.observer = observer
    }

    /// The package's `progs/`.
    public static var defaultProgsDirectory: URL {
        PackageRoot.url.appendingPathComponent("progs")
    }

    /// The guest agent built next to the running executable.
    public static var defaultAgent: String {
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent()
            .appendingPathComponent("selftests-guest").path
    }

    /// One kernel: `--kernel`, the default, or `--tree` built first. A tree
    /// that does not compile makes every selected test a `build-error`
    /// record, so that CI's JUnit and JSON show why nothing ran.
    public func run() throws -> RunReport {
        try evaluate().report
    }

    /// As `run()`, saying apart a kernel that did not build.
    public func evaluate() throws -> RunOutcome {
        let started = Date()
        let bench = try TestBench(
            options: options, observer: observer, buildObserver: buildObserver, host: host)
        return try bench.namingTheCache { try evaluate(on: bench, started: started) }
    }

    private func evaluate(on bench: TestBench, started: Date) throws -> RunOutcome {
        let kernel: KernelUnderTest
        var buildSeconds: Double?
        if let tree = options.tree {
            let result = try bench.build(tree: URL(fileURLWithPath: tree))
            buildSeconds = Date().timeIntervalSince(started)
            switch result {
            case .built(let product):
                kernel = try KernelUnderTest.built(product, digests: bench.digests)
            case .failed(let failure):
                return .kernelDidNotBuild(
                    failure,
                    Self.report(
                        for: failure, tests: bench.tests, started: started, observer: observer))
            }
        } else {
            kernel = try bench.prebuiltKernel()
        }
        let directory = try RunDirectories.create(in: bench.cache)
        var report = try bench.run(kernel: kernel, in: directory)
        if let buildSeconds { report.phases[RunPhase.kernelBuild.rawValue] = buildSeconds }
        return .ran(report)
    }

    /// The report of a run whose tree did not build: every test a
    /// `build-error` carrying the compiler's first error.
    static func report(
        for failure: KernelBuildFailure, tests: [TestSpec], started: Date, observer: RunObserver
    ) -> RunReport {
        var report = RunReport(
            kernel: failure.tree, accelerator: .noGuest,
            startedAt: ISO8601DateFormatter().string(from: started))
        report.kernelIdentity = KernelIdentity(
            path: failure.tree, tree: failure.tree, commit: failure.commit)
        report.phases[RunPhase.kernelBuild.rawValue] = failure.seconds
        report.records = tests.map {
            TestRecord(name: $0.name, outcome: .buildError, message: failure.message)
        }
        for record in report.records { observer.finished(record) }
        return report
    }
}

/// Wall time per phase of a run.
final class PhaseClock: @unchecked Sendable {
    // @unchecked: used from the pipeline's own thread only.
    private let clock: any HostClock
    let started: Date
    private var last: Date
    private(set) var phases: [String: Double] = [:]

    /// Starts now, by `clock` (the host's, or a test's fake one).
    init(_ clock: any HostClock = SystemClock()) {
        self.clock = clock
        started = clock.now()
        last = started
    }

    /// Every phase so far, and `total`: the seconds since the clock started.
    var phasesWithTotal: [String: Double] {
        phases.merging(["total": clock.now().timeIntervalSince(started)]) { _, total in total }
    }

    /// Ends one of a run's phases now; returns its seconds.
    @discardableResult
    func end(_ phase: RunPhase) -> Double { end(phase.rawValue) }

    /// Ends `phase` now (a series step's `checkout`, `build`, …); returns
    /// its seconds.
    @discardableResult
    func end(_ phase: String) -> Double {
        let now = clock.now()
        let seconds = now.timeIntervalSince(last)
        phases[phase, default: 0] += seconds
        last = now
        return seconds
    }
}

/// What happened to one test on one kernel.
public enum Outcome: String, Sendable, Codable, CaseIterable, Comparable {
    case pass
    case skip
    /// The test never started: the run's bound was spent before its turn.
    case notRun = "not-run"
    /// The test passed, but the kernel logged a warning, BUG, lockdep report,
    /// KASAN report, RCU stall, soft lockup or hung task while it ran.
    case splat
    case fail
    case timeout
    /// The guest ran out of memory while the test ran: the OOM killer
    /// killed a process (often the agent); `--memory` was too small.
    case outOfMemory = "out-of-memory"
    /// The kernel panicked or oopsed while the test ran.
    case kernelCrash = "kernel-crash"
    case buildError = "build-error"
    /// The runner could not get a verdict (the guest stopped without a reason).
    case infraError = "infra-error"

    /// Whether this outcome lets the run exit 0.
    public var isSuccess: Bool { self == .pass || self == .skip }

    /// Severity, used when two sources disagree (a test KTAP calls `pass`
    /// during which the console shows a splat is a `splat`).
    var severity: Int {
        switch self {
        case .pass: 0
        case .skip: 1
        case .notRun: 2
        case .splat: 3
        case .fail: 4
        case .timeout: 5
        case .outOfMemory: 6
        case .kernelCrash: 7
        case .buildError: 8
        case .infraError: 9
        }
    }

    public static func < (a: Outcome, b: Outcome) -> Bool { a.severity < b.severity }
}

/// One kernel complaint found in the console log.
public struct Splat: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case warning, bug, oops, panic, lockdep, kasan, rcuStall = "rcu-stall"
        case softLockup = "soft-lockup", hungTask = "hung-task"
        /// The OOM killer killed a process: the guest ran out of memory.
        case outOfMemory = "out-of-memory"

        /// A crash ends the guest; the others let it run on.
        public var isCrash: Bool { self == .panic || self == .oops }
    }

    public var kind: Kind
    /// The line that identified it, without the timestamp.
    public var title: String
    /// The splat's lines as printed (bounded), for the report.
    public var lines: [String]
    /// The test whose start/end markers enclose the splat; nil outside any test.
    public var test: String?

    public init(kind: Kind, title: String, lines: [String], test: String?) {
        self.kind = kind
        self.title = title
        self.lines = lines
        self.test = test
    }
}

/// The verdict for one test (or one case of a parametrised test).
public struct TestRecord: Sendable, Codable, Equatable {
    public var name: String
    public var outcome: Outcome
    /// Seconds the test took, as the guest measured it; nil when unknown.
    public var duration: Double?
    /// Why: assertion message, skip reason, clang error, verifier log.
    public var message: String?
    /// Diagnostic lines the test printed.
    public var diagnostics: [String]
    /// Kernel complaints pinned on this test.
    public var splats: [Splat]
    /// Cases of a parametrised test (one level).
    public var subtests: [TestRecord]
    /// What the results history says about it on this kernel (new, known,
    /// flaky); nil without history or with nothing to say.
    public var history: HistoryNote?
    /// True when the whole run's bound (`--run-timeout`), not the test's
    /// own, ended it: a `timeout` that says nothing about the test, which
    /// the history keeps as `not-run`.
    public var cutByRunBound: Bool?

    public init(
        name: String, outcome: Outcome, duration: Double? = nil, message: String? = nil,
        diagnostics: [String] = [], splats: [Splat] = [], subtests: [TestRecord] = []
    ) {
        self.name = name
        self.outcome = outcome
        self.duration = duration
        self.message = message
        self.diagnostics = diagnostics
        self.splats = splats
        self.subtests = subtests
    }
}

/// Everything one run produced: which kernel, how it ran, every verdict.
public struct RunReport: Sendable, Codable, Equatable {
    public var kernel: String
    public var kernelRelease: String?
    public var accelerator: RunAccelerators
    public var startedAt: String
    /// Wall seconds per phase: compile, image, boot, tests, teardown.
    public var phases: [String: Double]
    public var records: [TestRecord]
    /// Splats that happened outside any test (during boot or teardown).
    public var unattributedSplats: [Splat]
    /// Where the console logs and KTAP streams of this run are kept.
    public var artifactsDirectory: String?
    /// What the kernel was: its image digest, and the tree, commit and config
    /// it was built from when this runner built it.
    public var kernelIdentity: KernelIdentity?
    /// Set when the run was interrupted (SIGINT, …) and this report holds
    /// what had finished by then: the signal or cause.
    public var interruption: String?
    /// Set for a `--shard K/N` run: its share and the whole selection.
    public var shard: ShardRecord?
    /// The BPF programs the run needed: how many it compiled and how many
    /// it found cached (a series step whose vmlinux.h is the previous
    /// step's compiles none).
    public var programs: ProgramCounts?

    public init(
        kernel: String, kernelRelease: String? = nil, accelerator: RunAccelerators,
        startedAt: String, phases: [String: Double] = [:], records: [TestRecord] = [],
        unattributedSplats: [Splat] = [], artifactsDirectory: String? = nil
    ) {
        self.kernel = kernel
        self.kernelRelease = kernelRelease
        self.accelerator = accelerator
        self.startedAt = startedAt
        self.phases = phases
        self.records = records
        self.unattributedSplats = unattributedSplats
        self.artifactsDirectory = artifactsDirectory
    }

    /// Counts per outcome over top-level records.
    public var counts: [Outcome: Int] {
        records.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 }
    }

    /// The run's wall seconds: its phases (compile, boot, tests, …) summed;
    /// nil when it has none. The terminal's `Time:` and JUnit's root `time`.
    public var wallSeconds: Double? {
        let seconds = phases.values.filter(\.isFinite)
        return seconds.isEmpty ? nil : seconds.reduce(0, +)
    }

    /// 0 when every test passed or skipped, 1 otherwise (`not-run` and
    /// `out-of-memory` included).
    public var exitCode: Int32 {
        records.allSatisfy(\.outcome.isSuccess) && unattributedSplats.isEmpty ? 0 : 1
    }
}

/// What the compile phase did with the programs a run needed.
public struct ProgramCounts: Sendable, Codable, Equatable {
    public var compiled: Int
    public var cached: Int
    public var failed: Int

    public init(compiled: Int, cached: Int, failed: Int) {
        self.compiled = compiled
        self.cached = cached
        self.failed = failed
    }
}

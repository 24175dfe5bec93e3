import Foundation

/// One test (or one case of a parametrised test) at one step of a series,
/// compared with the step before it that built.
public struct StepVerdict: Sendable, Codable, Equatable {
    public enum Change: String, Sendable, Codable {
        /// Passed at the step before; did not here, nor on any re-run.
        case regression
        /// Did not pass here, then passed on a re-run on the same kernel.
        case flaky
        /// Did not pass at the step before; passes here.
        case fixed
    }

    /// The record's full name, with its case: `hash/update_flags/LRU_HASH`.
    public var test: String
    /// The first run's outcome.
    public var outcome: Outcome
    /// The re-runs' outcomes on the same kernel (none when none was needed).
    public var retries: [Outcome]
    public var change: Change?
    /// Why it did not pass: the assert message, the splat's lines.
    public var evidence: [String]

    public init(
        test: String, outcome: Outcome, retries: [Outcome] = [], change: Change? = nil,
        evidence: [String] = []
    ) {
        self.test = test
        self.outcome = outcome
        self.retries = retries
        self.change = change
        self.evidence = evidence
    }

    /// What later steps are compared with: a flake counts as a pass.
    public var effective: Outcome { change == .flaky ? .pass : outcome }
}

/// How one step's kernel build went.
public struct StepBuild: Sendable, Codable, Equatable {
    public var built: Bool
    public var seconds: Double
    /// Kbuild steps it ran (0: nothing to rebuild).
    public var steps: Int?
    /// The first compiler error, with its file and line, when it failed.
    public var error: String?
    /// This step's build log, copied into the run directory.
    public var log: String?
    /// Why it was not built: the patch changed only what the build does not read.
    public var skipped: String?
}

/// One commit of a series: built, booted and tested, or why not.
public struct SeriesStep: Sendable, Codable, Equatable {
    public var position: Int
    public var subject: String
    public var commit: String
    public var messageId: String?
    public var build: StepBuild
    /// The kernel booted (nil when the build failed).
    public var kernel: KernelIdentity?
    /// The position of an earlier step with a byte-identical kernel, whose
    /// results this step carries instead of booting again.
    public var carriedFrom: Int?
    /// The earlier run, from the history, whose results this step took
    /// instead of building and booting: the same tree under the same inputs.
    public var reused: StepReuse?
    /// Every selected test and case, compared with the step before.
    public var verdicts: [StepVerdict]
    /// The first run on this kernel, and the re-runs of what did not pass.
    public var run: RunReport?
    public var retryRuns: [RunReport]
    /// Wall seconds: checkout, build, tests (boots included), everything.
    public var seconds: [String: Double]
    public var directory: String

    public var commitRef: SeriesCommit {
        SeriesCommit(position: position, subject: subject, commit: commit, messageId: messageId)
    }
}

/// Where a reused step's results come from: a run in the history.
public struct StepReuse: Sendable, Codable, Equatable {
    /// The run's id in the history (`selftests history` lists its tests).
    public var run: Int64
    /// When it ran (ISO 8601).
    public var startedAt: String
    /// The step it was then: its series position and commit.
    public var position: Int?
    public var commit: String?

    /// `reused from run 12 (2026-12-02T09:14:03Z, step 2 0d1f2e3c4b5a)`.
    public var description: String {
        var then = [startedAt]
        if let position {
            then.append("step \(position)" + (commit.map { " \($0.prefix(12))" } ?? ""))
        }
        return "reused from run \(run) (\(then.joined(separator: ", ")))"
    }
}

/// A test that a patch broke: the first patch at which it stopped passing.
public struct Regression: Sendable, Codable, Equatable {
    public var test: String
    public var firstBad: SeriesCommit
    public var outcome: Outcome
    public var evidence: [String]
    /// The later patch at which it passes again, if one does.
    public var fixedAt: Int?
}

/// A patch after which the kernel no longer builds.
public struct BuildBreak: Sendable, Codable, Equatable {
    public var patch: SeriesCommit
    public var error: String
    public var log: String?
    /// The first later patch that builds again; nil if none does.
    public var buildsAgainAt: Int?
}

/// A test that passed only on a re-run, at one step.
public struct Flake: Sendable, Codable, Equatable {
    public var test: String
    public var position: Int
    public var outcome: Outcome
}

/// Everything a series run found, step by step, and what it concludes.
public struct SeriesReport: Sendable, Codable, Equatable {
    public var title: String
    public var tree: String
    public var worktree: String
    public var baseNote: String
    /// Patches in the series, applied or not.
    public var total: Int
    public var tests: [String]
    public var steps: [SeriesStep]
    public var regressions: [Regression]
    public var flakes: [Flake]
    public var fixed: [Flake]
    public var buildBreaks: [BuildBreak]
    public var notApplied: NotApplied?
    public var startedAt: String
    public var seconds: Double
    public var artifactsDirectory: String
    /// Per map, its measured bytes' run-to-run noise from the results
    /// history (`HistoryStore.memoryNoise`), when the memory tests ran.
    public var memoryNoise: [String: Int]? = nil

    /// 0 no regression and every patch built; 1 a regression or a patch
    /// that does not build; 2 a patch that does not apply (bad input).
    public var exitCode: Int32 {
        if notApplied != nil { return 2 }
        return regressions.isEmpty && buildBreaks.isEmpty ? 0 : 1
    }

    /// The JSON document: snake_case keys, sorted, with `exit_code`.
    public func json() throws -> Data {
        try DocumentJSON.data(Document(report: self), snakeCase: true)
    }

    public static func decode(_ data: Data) throws -> SeriesReport {
        try DocumentJSON.decode(SeriesReport.self, from: data, snakeCase: true)
    }

    /// The report's keys, with the exit code beside them.
    struct Document: Encodable {
        var report: SeriesReport
        enum CodingKeys: String, CodingKey { case exitCode }
        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(report.exitCode, forKey: .exitCode)
        }
    }
}

import Foundation
import GRDB

/// What a recorded run was: a plain `run`, one step of a series or a
/// bisect (a retry included), or a shard of a CI matrix.
public enum RunKind: Sendable, Equatable {
    case run
    /// `position` of the series (0: the base); `attempt` 0 is the step's
    /// first run, 1… its re-runs on the same kernel.
    case seriesStep(position: Int, commit: String, attempt: Int)
    /// `label` as the bisect says it (`bad`, `good`, `step 3`); `attempt` as above.
    case bisectStep(label: String, commit: String, attempt: Int)
    case shard(Shard)

    /// The `kind` column: run, series-step, bisect-step, shard.
    var name: String {
        switch self {
        case .run: "run"
        case .seriesStep: "series-step"
        case .bisectStep: "bisect-step"
        case .shard: "shard"
        }
    }
}

/// One row of the `run` table: a run of some tests on one kernel.
public struct HistoryRun: Sendable, Codable, Equatable, FetchableRecord,
    MutablePersistableRecord
{
    public static let databaseTableName = "run"

    public var id: Int64?
    public var startedAt: Date
    public var host: String
    public var accelerator: String
    /// What makes two runs "the same kernel": `KernelKey.of(_:)`.
    public var kernelKey: String
    public var kernelPath: String
    public var kernelRelease: String?
    public var imageDigest: String?
    public var tree: String?
    public var commit: String?
    public var dirty: Bool?
    public var configHash: String?
    /// `RunKind.name`, and its details in the columns below.
    public var kind: String
    public var stepPosition: Int?
    public var stepLabel: String?
    public var stepCommit: String?
    public var attempt: Int?
    public var shardIndex: Int?
    public var shardCount: Int?
    /// The cause, when the run was interrupted and this is what had finished.
    public var interruption: String?
    /// A series step's content key (`CommitDriver.reuseKey`): equal keys,
    /// equal results.
    public var resultKey: String?
    /// The run whose results this step reused instead of booting; such a
    /// run has no result rows of its own, so nothing counts twice.
    public var reusedFrom: Int64?
    /// The step's first run, when this is one of its re-runs.
    public var retryOf: Int64?

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One row of the `result` table: a top-level test's verdict in one run.
public struct HistoryResult: Sendable, Codable, Equatable, FetchableRecord,
    MutablePersistableRecord
{
    public static let databaseTableName = "result"

    public var id: Int64?
    public var runId: Int64
    public var name: String
    /// `Outcome.rawValue`; an outcome a later version adds still reads back.
    public var outcome: String
    public var duration: Double?
    /// The record's message, at most `HistoryStore.evidenceLimit` characters.
    public var message: String?
    /// The first kernel complaint pinned on the test, bounded the same way.
    public var splatTitle: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A test's verdict with when and on which kernel: what the queries return
/// and what classification and flake detection read.
public struct TestRun: Sendable, Codable, Equatable {
    public var runId: Int64
    public var startedAt: Date
    public var name: String
    public var outcome: String
    public var duration: Double?
    public var kernelKey: String
    public var kernelRelease: String?
    public var kind: String
    public var message: String?

    public init(
        runId: Int64, startedAt: Date, name: String, outcome: String, duration: Double? = nil,
        kernelKey: String, kernelRelease: String? = nil, kind: String = "run",
        message: String? = nil
    ) {
        self.runId = runId
        self.startedAt = startedAt
        self.name = name
        self.outcome = outcome
        self.duration = duration
        self.kernelKey = kernelKey
        self.kernelRelease = kernelRelease
        self.kind = kind
        self.message = message
    }

    /// The outcome, when this version knows it.
    public var verdict: Outcome? { Outcome(rawValue: outcome) }
}

/// "The same kernel": the same image digest, or, without one, the same
/// path and release (a kernel that did not build, an old report).
public enum KernelKey {
    public static func of(_ identity: KernelIdentity) -> String {
        if let digest = identity.imageDigest { return digest }
        return "path:\(identity.path)|\(identity.release ?? "?")"
    }

    /// The key of a report's kernel, from its identity or its bare fields.
    public static func of(_ report: RunReport) -> String {
        of(
            report.kernelIdentity
                ?? KernelIdentity(path: report.kernel, release: report.kernelRelease))
    }
}

extension HistoryRun {
    /// The row for `report`, run as `kind` on `host`.
    init(report: RunReport, kind: RunKind, host: String) {
        let identity =
            report.kernelIdentity
            ?? KernelIdentity(path: report.kernel, release: report.kernelRelease)
        id = nil
        startedAt = ISO8601DateFormatter().date(from: report.startedAt) ?? Date()
        self.host = host
        accelerator = report.accelerator.description
        kernelKey = KernelKey.of(report)
        kernelPath = identity.path
        kernelRelease = identity.release ?? report.kernelRelease
        imageDigest = identity.imageDigest
        tree = identity.tree
        commit = identity.commit
        dirty = identity.dirty
        configHash = identity.configHash
        self.kind = kind.name
        interruption = report.interruption
        describe(kind)
    }

    /// Sets the kind column and the columns that detail it.
    mutating func describe(_ kind: RunKind) {
        self.kind = kind.name
        switch kind {
        case .run: break
        case .seriesStep(let position, let commit, let attempt):
            (stepPosition, stepCommit, self.attempt) = (position, commit, attempt)
        case .bisectStep(let label, let commit, let attempt):
            (stepLabel, stepCommit, self.attempt) = (label, commit, attempt)
        case .shard(let shard):
            (shardIndex, shardCount) = (shard.index, shard.count)
        }
    }
}

extension HistoryResult {
    /// The row for one top-level record: evidence cut to `limit` characters,
    /// so a verifier log of megabytes does not swell the store.
    init(record: TestRecord, runId: Int64, limit: Int) {
        id = nil
        self.runId = runId
        name = record.name
        // A test the run's bound cut short did not time out on its own:
        // kept as not-run, it makes no flip and no failure of the test.
        outcome = (record.cutByRunBound == true ? Outcome.notRun : record.outcome).rawValue
        duration = record.duration.flatMap { $0.isFinite ? $0 : nil }
        message = record.message.map { String($0.prefix(limit)) }
        splatTitle = record.splats.first.map { String($0.title.prefix(limit)) }
    }
}

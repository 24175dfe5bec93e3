import Foundation
import GRDB

/// What a series step's run adds to its row: the step's content key, and
/// for a re-run the step's first run.
public struct StepRecording: Sendable, Equatable {
    public var key: String
    public var retryOf: Int64?

    public init(key: String, retryOf: Int64? = nil) {
        self.key = key
        self.retryOf = retryOf
    }
}

/// An earlier step's complete results under one content key: its first run
/// and its re-runs, as they were reported.
public struct ReusableStep: Sendable, Equatable {
    /// The first run's id in the store.
    public var runId: Int64
    public var startedAt: Date
    /// The step it was: series position and commit (another commit id for
    /// the same tree, when the series was re-applied).
    public var position: Int?
    public var commit: String?
    public var first: RunReport
    public var retries: [RunReport]
}

extension HistoryStore {
    /// The newest results recorded under `key` that are whole: no run of
    /// the step was interrupted, no test was left without a verdict by the
    /// runner (`infra-error`, `not-run`), and every one of `tests` has a
    /// record (`test_progs` stands for its `test_progs/…` records). Nil
    /// when there is none.
    public func reusable(key: String, tests: [String]) throws -> ReusableStep? {
        try pool.read { db in
            let firsts = try HistoryRun.filter(
                Column("resultKey") == key && Column("reusedFrom") == nil
                    && Column("retryOf") == nil
            ).order(Column("startedAt").desc, Column("id").desc).fetchAll(db)
            for run in firsts {
                guard let id = run.id, run.interruption == nil,
                    let first = try Self.report(of: id, db)
                else { continue }
                let retryRows = try HistoryRun.filter(Column("retryOf") == id)
                    .order(Column("attempt"), Column("id")).fetchAll(db)
                guard retryRows.allSatisfy({ $0.interruption == nil }) else { continue }
                let retries = try retryRows.compactMap {
                    try $0.id.flatMap { try Self.report(of: $0, db) }
                }
                guard retries.count == retryRows.count,
                    Self.isWhole(first, tests: tests),
                    retries.allSatisfy({ Self.isWhole($0, tests: nil) })
                else { continue }
                return ReusableStep(
                    runId: id, startedAt: run.startedAt, position: run.stepPosition,
                    commit: run.stepCommit, first: first, retries: retries)
            }
            return nil
        }
    }

    /// Records that a step of `kind` took the results of run `original`:
    /// a run row pointing at it, with no result rows, so `history` and
    /// `flakes` count those verdicts once. Its id.
    @discardableResult
    public func recordReuse(
        of original: Int64, kind: RunKind, key: String, host: String = HistoryStore.hostName,
        at date: Date = Date()
    ) throws -> Int64 {
        try pool.write { db in
            guard let source = try HistoryRun.fetchOne(db, key: original) else {
                throw SelftestError(
                    .infrastructure, .cache, "run \(original) is not in the results history")
            }
            var run = HistoryRun(reusing: source, kind: kind, host: host, at: date)
            run.resultKey = key
            run.reusedFrom = original
            try run.insert(db)
            return run.id ?? db.lastInsertedRowID
        }
    }

    static func report(of runId: Int64, _ db: Database) throws -> RunReport? {
        guard
            let data = try Data.fetchOne(
                db, sql: "SELECT json FROM runReport WHERE runId = ?", arguments: [runId])
        else { return nil }
        return try? DocumentJSON.decode(RunReport.self, from: data)
    }

    /// Whether `report` holds a verdict the kernel earned for every test.
    static func isWhole(_ report: RunReport, tests: [String]?) -> Bool {
        guard report.interruption == nil else { return false }
        let unearned: Set<Outcome> = [.infraError, .notRun]
        func clean(_ record: TestRecord) -> Bool {
            !unearned.contains(record.outcome) && record.subtests.allSatisfy(clean)
        }
        guard report.records.allSatisfy(clean) else { return false }
        guard let tests else { return true }
        let names = Set(report.records.map(\.name))
        return tests.allSatisfy { test in
            names.contains(test) || names.contains { $0.hasPrefix(test + "/") }
        }
    }
}

extension HistoryRun {
    /// A row for a step that reused `source`'s results: the same kernel,
    /// this step's kind, now.
    init(reusing source: HistoryRun, kind: RunKind, host: String, at date: Date) {
        self = source
        id = nil
        startedAt = date
        self.host = host
        (stepPosition, stepLabel, stepCommit, attempt) = (nil, nil, nil, nil)
        (shardIndex, shardCount, retryOf) = (nil, nil, nil)
        describe(kind)
    }
}

import Foundation
import GRDB

/// A memory table the history holds: the run that measured it and its rows.
public struct StoredMemory: Sendable, Equatable {
    public var runId: Int64
    public var startedAt: Date
    /// The kernel as the run row names it: release, else path.
    public var kernel: String
    public var measurements: [MemoryMeasurement]

    /// `run 12, 6.12.118 (2026-12-02T09:14:03Z)`.
    public var name: String {
        "run \(runId), \(kernel) (\(ISO8601DateFormatter().string(from: startedAt)))"
    }
}

extension HistoryStore {
    /// Every map `report` measured (the memory tests' `measure:` lines),
    /// stored with the run: what `memory --compare` reads.
    static func insertMemory(of report: RunReport, runId: Int64, _ db: Database) throws {
        for m in MemoryMeasurement.all(in: report) {
            try db.execute(
                sql: """
                    INSERT INTO memory (runId, test, caseName, mapKey, measured, reported, json)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    runId, m.test, m.label, MemoryComparison.key(m), m.measured, m.reported,
                    try DocumentJSON.data(m),
                ])
        }
    }

    /// The newest memory table of a run `ref` names, or nil: a run id
    /// (`12`), a kernel (an image digest or its prefix, an image's path,
    /// a release) or a tree commit (a prefix of at least 7 hex digits).
    public func memory(matching ref: String) throws -> StoredMemory? {
        try pool.read { db in
            var conditions = [
                "r.imageDigest LIKE ?", "r.kernelPath = ?", "r.kernelRelease = ?",
                "r.kernelKey = ?",
            ]
            var arguments: [any DatabaseValueConvertible] = [ref + "%", ref, ref, ref]
            if let id = Int64(ref) {
                conditions.append("r.id = ?")
                arguments.append(id)
            }
            if ref.count >= 7, ref.allSatisfy(\.isHexDigit) {
                conditions += [#"r."commit" LIKE ?"#, "r.stepCommit LIKE ?"]
                arguments += [ref.lowercased() + "%", ref.lowercased() + "%"]
            }
            let sql = """
                SELECT r.* FROM run r
                WHERE (\(conditions.joined(separator: " OR ")))
                  AND EXISTS (SELECT 1 FROM memory m WHERE m.runId = r.id)
                ORDER BY r.startedAt DESC, r.id DESC LIMIT 1
                """
            guard
                let run = try HistoryRun.fetchOne(
                    db, sql: sql, arguments: StatementArguments(arguments)),
                let id = run.id
            else { return nil }
            return StoredMemory(
                runId: id, startedAt: run.startedAt,
                kernel: run.kernelRelease ?? run.kernelPath,
                measurements: try Self.memory(ofRun: id, db))
        }
    }

    /// Per map (`MemoryComparison.key`), the most its measured bytes varied
    /// over the runs of any one kernel that measured it at least
    /// `minimumRuns` times: what a patch's delta must exceed to be more than
    /// run-to-run noise. Maps never measured that often are absent.
    public func memoryNoise(minimumRuns: Int = 3) throws -> [String: Int] {
        try pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT mapKey, MAX(spread) AS noise FROM (
                        SELECT m.mapKey, MAX(m.measured) - MIN(m.measured) AS spread,
                               COUNT(DISTINCT m.runId) AS runs
                        FROM memory m JOIN run r ON r.id = m.runId
                        GROUP BY r.kernelKey, m.mapKey)
                    WHERE runs >= ? GROUP BY mapKey
                    """, arguments: [minimumRuns])
            return Dictionary(
                rows.map { ($0["mapKey"] as String, $0["noise"] as Int) },
                uniquingKeysWith: max)
        }
    }

    /// How many runs have a memory table.
    public func memoryRunCount() throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT runId) FROM memory") ?? 0
        }
    }

    static func memory(ofRun runId: Int64, _ db: Database) throws -> [MemoryMeasurement] {
        try Data.fetchAll(
            db, sql: "SELECT json FROM memory WHERE runId = ? ORDER BY id", arguments: [runId]
        ).compactMap { try? DocumentJSON.decode(MemoryMeasurement.self, from: $0) }
    }
}

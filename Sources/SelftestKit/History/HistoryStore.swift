import Foundation
import GRDB

/// The results history: every run, series step and bisect step, with a
/// verdict per top-level test, in `<cache>/history.sqlite`.
///
/// SQLite in WAL mode through a GRDB `DatabasePool`: readers never wait
/// for a writer, and a second runner writing at the same moment waits up
/// to `busySeconds` for the lock instead of failing. The schema is built
/// by migrations, from "v1" on, so a later version adds to a store an
/// older one wrote.
///
/// The API, for what builds on the store (series result reuse, memory over time):
/// - `record(_:kind:host:step:)` adds a run and its results, in one
///   transaction; a series step's also its content key and whole report;
/// - `reusable(key:tests:)` and `recordReuse(of:kind:key:)`: a step's
///   earlier complete results, and a step that took them (no result rows);
/// - `results(onKernel:tests:)` is every recorded verdict on one kernel;
/// - `runs(of:)` is every verdict matching a `HistoryQuery` (a test glob,
///   a kernel, a date), oldest first; `TestHistory.summarize` turns them
///   into per-test runs, pass rate, flips and median duration (what
///   `history --json` exports and `run --shard --durations` reads).
public final class HistoryStore: Sendable {
    /// The file's name under the cache root.
    public static let fileName = "history.sqlite"
    /// Characters of evidence (message, splat title) kept per result.
    public static let evidenceLimit = 2000
    /// How long a write waits for another process's.
    public static let busySeconds: TimeInterval = 10

    public let path: String
    let pool: DatabasePool

    /// Opens (creating it if need be) the store at `path` and brings its
    /// schema up to date. Throws when the file cannot be opened or is not
    /// a database; callers that must not fail use `HistoryRecorder`.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busySeconds)
        configuration.label = "selftests history"
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// The store's place in `cache`.
    public static func location(in cache: Cache) -> URL {
        cache.entry(fileName)
    }

    /// The schema, one migration per version; a migration once shipped is
    /// never edited, a change is a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("startedAt", .datetime).notNull().indexed()
                t.column("host", .text).notNull()
                t.column("accelerator", .text).notNull()
                t.column("kernelKey", .text).notNull().indexed()
                t.column("kernelPath", .text).notNull()
                t.column("kernelRelease", .text)
                t.column("imageDigest", .text)
                t.column("tree", .text)
                t.column("commit", .text)
                t.column("dirty", .boolean)
                t.column("configHash", .text)
                t.column("kind", .text).notNull()
                t.column("stepPosition", .integer)
                t.column("stepLabel", .text)
                t.column("stepCommit", .text)
                t.column("attempt", .integer)
                t.column("shardIndex", .integer)
                t.column("shardCount", .integer)
                t.column("interruption", .text)
            }
            try db.create(table: "result") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("name", .text).notNull().indexed()
                t.column("outcome", .text).notNull()
                t.column("duration", .double)
                t.column("message", .text)
                t.column("splatTitle", .text)
            }
        }
        // Series result reuse: a step's content key, the run it reused or
        // re-ran, and the whole report (cases, splats, measurements) that a
        // later series carries instead of booting again.
        migrator.registerMigration("v2") { db in
            try db.alter(table: "run") { t in
                t.add(column: "resultKey", .text)
                t.add(column: "reusedFrom", .integer)
                t.add(column: "retryOf", .integer)
            }
            try db.create(index: "run_on_resultKey", on: "run", columns: ["resultKey"])
            try db.create(table: "runReport") { t in
                t.primaryKey("runId", .integer).references("run", onDelete: .cascade)
                t.column("json", .blob).notNull()
            }
        }
        // Memory over time: each map a run measured, by type and size.
        migrator.registerMigration("v3") { db in
            try db.create(table: "memory") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("test", .text)
                t.column("caseName", .text).notNull()
                t.column("mapKey", .text).notNull()
                t.column("measured", .integer).notNull()
                t.column("reported", .integer).notNull()
                t.column("json", .blob).notNull()
            }
        }
        return migrator
    }

    /// Records `report` as one run of `kind`; its id. The run and all its
    /// results are one transaction: a reader never sees half a run.
    /// A series step's run also keeps its content key (`step.key`), the
    /// step's first run when it is a re-run, and the whole report.
    @discardableResult
    public func record(
        _ report: RunReport, kind: RunKind, host: String = HistoryStore.hostName,
        step: StepRecording? = nil
    ) throws -> Int64 {
        let json = try step.map { _ in try DocumentJSON.data(report) }
        return try pool.write { db in
            var run = HistoryRun(report: report, kind: kind, host: host)
            run.resultKey = step?.key
            run.retryOf = step?.retryOf
            try run.insert(db)
            let id = run.id ?? db.lastInsertedRowID
            for record in report.records {
                var result = HistoryResult(record: record, runId: id, limit: Self.evidenceLimit)
                try result.insert(db)
            }
            try Self.insertMemory(of: report, runId: id, db)
            if let json {
                try db.execute(
                    sql: "INSERT INTO runReport (runId, json) VALUES (?, ?)",
                    arguments: [id, json])
            }
            return id
        }
    }

    /// Every verdict recorded on the kernel `kernelKey` (see `KernelKey`),
    /// of `tests` when given, oldest first.
    public func results(onKernel kernelKey: String, tests: [String]? = nil) throws -> [TestRun] {
        try runs(of: HistoryQuery(tests: tests, kernelKey: kernelKey))
    }

    /// Each of `tests` that passed on the kernel `kernelKey`: the median
    /// of its durations over its last `last` passing runs (the latest, as
    /// a test's cost moves with the tests and the agent). `--jobs` weighs
    /// the guests' shares by them.
    public func recentPassingSeconds(onKernel kernelKey: String, tests: [String], last: Int = 5)
        throws -> [String: Double]
    {
        let passing = try results(onKernel: kernelKey, tests: tests).filter { $0.verdict == .pass }
        return Dictionary(grouping: passing, by: \.name).compactMapValues { runs in
            HistoryClassifier.median(Array(runs.compactMap(\.duration).suffix(last)))
        }
    }

    /// Every verdict `query` selects, oldest first (by start, then by id).
    public func runs(of query: HistoryQuery) throws -> [TestRun] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let glob = query.glob {
            // SQLite's GLOB is the shell's: *, ?, [...], case-sensitive.
            conditions.append("s.name GLOB ?")
            arguments.append(glob)
        }
        if let tests = query.tests {
            if tests.isEmpty { return [] }
            conditions.append(
                "s.name IN (" + Array(repeating: "?", count: tests.count).joined(separator: ",")
                    + ")")
            arguments += tests
        }
        if let key = query.kernelKey {
            conditions.append("r.kernelKey = ?")
            arguments.append(key)
        }
        if let kernel = query.kernel {
            conditions.append("(r.imageDigest LIKE ? OR r.kernelPath = ? OR r.kernelKey = ?)")
            arguments += [kernel + "%", kernel, kernel]
        }
        if let since = query.since {
            conditions.append("r.startedAt >= ?")
            arguments.append(since)
        }
        let sql = """
            SELECT r.id AS runId, r.startedAt, s.name, s.outcome, s.duration, r.kernelKey,
                   r.kernelRelease, r.kind, s.message
            FROM result s JOIN run r ON r.id = s.runId
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY r.startedAt, r.id, s.id
            """
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                TestRun(
                    runId: row["runId"], startedAt: row["startedAt"], name: row["name"],
                    outcome: row["outcome"], duration: row["duration"],
                    kernelKey: row["kernelKey"], kernelRelease: row["kernelRelease"],
                    kind: row["kind"], message: row["message"])
            }
        }
    }

    /// Every run row, oldest first: for tests and for a caller that needs
    /// the kernel identity or step of a run `runs(of:)` named.
    public func allRuns() throws -> [HistoryRun] {
        try pool.read { db in
            try HistoryRun.order(Column("startedAt"), Column("id")).fetchAll(db)
        }
    }

    /// This host's name, as the run rows record it.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(
            decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Which verdicts a history query reads; every field narrows it.
public struct HistoryQuery: Sendable, Equatable {
    /// A shell glob over test names.
    public var glob: String?
    /// Exact test names.
    public var tests: [String]?
    /// Exactly one kernel (`KernelKey`).
    public var kernelKey: String?
    /// A kernel as a user names it: a digest prefix, or the image's path.
    public var kernel: String?
    /// Runs that started at or after this date.
    public var since: Date?

    public init(
        glob: String? = nil, tests: [String]? = nil, kernelKey: String? = nil,
        kernel: String? = nil, since: Date? = nil
    ) {
        self.glob = glob
        self.tests = tests
        self.kernelKey = kernelKey
        self.kernel = kernel
        self.since = since
    }
}

extension HistoryQuery {
    /// Reads `--since`: `7d`, `12h`, `2w`, `30m` before `now`, or a date
    /// (`2026-12-01`, or ISO 8601 with a time).
    public static func since(parsing text: String, now: Date = Date()) throws -> Date {
        let units: [Character: Double] = ["m": 60, "h": 3600, "d": 86400, "w": 7 * 86400]
        if let unit = text.last.flatMap({ units[$0] }), let count = Double(text.dropLast()),
            count >= 0
        {
            return now.addingTimeInterval(-count * unit)
        }
        let full = ISO8601DateFormatter()
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = full.date(from: text) ?? day.date(from: text) { return date }
        throw SelftestError(
            .usage, .options, "--since takes a span before now or a date", input: "--since \(text)",
            fix: "e.g. --since 7d, --since 12h, --since 2026-12-01")
    }
}

extension HistoryStore {
    /// The store for a command that only reads it (`history`, `flakes`):
    /// nil when none was recorded yet; a file that is not one is refused.
    public static func existing(in cache: Cache) throws -> HistoryStore? {
        let url = location(in: cache)
        guard Cache.exists(url) else { return nil }
        do {
            return try HistoryStore(path: url.path)
        } catch {
            throw SelftestError(
                .environment, .cache,
                "\(url.path) cannot be read as the results history: "
                    + (String(describing: error).split(separator: "\n").first.map(String.init) ?? ""),
                input: url.path,
                fix:
                    "move it away (the next run starts a new history) or fix the cache's permissions"
            )
        }
    }
}

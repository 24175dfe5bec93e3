import Foundation
import GRDB
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// The results history on a real SQLite file in a temporary directory:
/// its schema, what a run records, the queries, two writers at once, and
/// a store that cannot be used never failing the run.
@Suite(.tags(.unit)) final class HistoryStoreTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
        "history-\(UUID())")
    var path: String { scratch.appendingPathComponent(HistoryStore.fileName).path }

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// A report of `outcomes` on the kernel with image `digest`.
    static func report(
        _ outcomes: [String: Outcome], digest: String? = "aaaa1111", at date: String,
        durations: [String: Double] = [:]
    ) -> RunReport {
        var report = RunReport(
            kernel: "/boot/vmlinuz", kernelRelease: "6.12.118", accelerator: .tcg,
            startedAt: date)
        report.kernelIdentity = KernelIdentity(
            path: "/boot/vmlinuz", release: "6.12.118", imageDigest: digest, tree: "/src/linux",
            commit: "c0ffee", dirty: false, configHash: "cfg")
        report.records = outcomes.keys.sorted().map {
            TestRecord(name: $0, outcome: outcomes[$0]!, duration: durations[$0])
        }
        return report
    }

    /// What `--jobs` weighs each test by: the median of its last five
    /// passing durations on that kernel; failures and other kernels do not count.
    @Test func recentPassingSecondsAreTheMedianOfTheLastFivePasses() throws {
        let store = try HistoryStore(path: path)
        let durations: [Double] = [9, 9, 9, 1, 2, 3, 4, 5]
        for (index, seconds) in durations.enumerated() {
            try store.record(
                Self.report(
                    ["a/1": .pass, "a/2": .fail], at: "2026-12-01T10:00:0\(index)Z",
                    durations: ["a/1": seconds, "a/2": 30]), kind: .run)
        }
        try store.record(
            Self.report(
                ["a/1": .pass], digest: "bbbb2222", at: "2026-12-01T11:00:00Z",
                durations: ["a/1": 100]), kind: .run)
        let seconds = try store.recentPassingSeconds(onKernel: "aaaa1111", tests: ["a/1", "a/2"])
        #expect(seconds == ["a/1": 3])
    }

    @Test func aNewStoreHasEveryMigrationAndReopensWithItsRuns() throws {
        let store = try HistoryStore(path: path)
        let applied = try store.pool.read { try HistoryStore.migrator.appliedIdentifiers($0) }
        #expect(Set(applied) == Set(HistoryStore.migrator.migrations))
        let columns = try store.pool.read { db in
            (
                try db.columns(in: "run").map(\.name),
                try db.columns(in: "result").map(\.name)
            )
        }
        #expect(columns.0.contains("imageDigest") && columns.0.contains("interruption"))
        #expect(
            columns.1 == ["id", "runId", "name", "outcome", "duration", "message", "splatTitle"])
        try store.record(Self.report(["a/1": .pass], at: "2026-12-01T10:00:00Z"), kind: .run)
        // Opening again migrates nothing and keeps what was there.
        let again = try HistoryStore(path: path)
        #expect(try again.allRuns().count == 1)
        let mode = try again.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    /// A store an older version wrote (v1 only) gains the later tables and
    /// columns on open, and keeps its runs.
    @Test func aV1StoreIsMigratedAndKeepsItsRuns() throws {
        let old = try DatabasePool(path: path)
        try HistoryStore.migrator.migrate(old, upTo: "v1")
        let id = try old.write { db -> Int64 in
            var run = HistoryRun(
                report: Self.report(["a/1": .fail], at: "2026-12-01T10:00:00Z"), kind: .run,
                host: "h")
            try db.execute(
                sql: """
                    INSERT INTO run (startedAt, host, accelerator, kernelKey, kernelPath, kind)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run.startedAt, run.host, run.accelerator, run.kernelKey, run.kernelPath,
                    run.kind,
                ])
            run.id = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO result (runId, name, outcome) VALUES (?, 'a/1', 'fail')",
                arguments: [run.id])
            return db.lastInsertedRowID
        }
        try old.close()
        #expect(id > 0)
        let store = try HistoryStore(path: path)
        let runs = try store.allRuns()
        #expect(runs.count == 1)
        #expect(runs.first?.resultKey == nil && runs.first?.reusedFrom == nil)
        #expect(try store.runs(of: HistoryQuery()).map(\.outcome) == ["fail"])
    }

    @Test func aRunIsRecordedWithItsKernelStepAndBoundedEvidence() throws {
        let store = try HistoryStore(path: path)
        var report = Self.report(["a/1": .fail], at: "2026-12-01T10:00:00Z")
        report.records[0].message = String(repeating: "x", count: 10_000)
        report.records[0].splats = [
            Splat(kind: .warning, title: "WARNING: at mm/slub.c", lines: [], test: "a/1")
        ]
        report.interruption = "SIGINT"
        try store.record(report, kind: .seriesStep(position: 3, commit: "beef", attempt: 1))
        try store.record(report, kind: .bisectStep(label: "step 2", commit: "f00d", attempt: 0))
        try store.record(report, kind: .shard(Shard(index: 2, count: 4)))
        let runs = try store.allRuns()
        #expect(runs.map(\.kind) == ["series-step", "bisect-step", "shard"])
        #expect(runs[0].stepPosition == 3 && runs[0].stepCommit == "beef" && runs[0].attempt == 1)
        #expect(runs[1].stepLabel == "step 2" && runs[1].stepCommit == "f00d")
        #expect(runs[2].shardIndex == 2 && runs[2].shardCount == 4)
        #expect(runs[0].kernelKey == "aaaa1111" && runs[0].commit == "c0ffee")
        #expect(runs[0].configHash == "cfg" && runs[0].dirty == false)
        #expect(runs[0].interruption == "SIGINT")
        #expect(!runs[0].host.isEmpty)
        let results = try store.pool.read { try HistoryResult.fetchAll($0) }
        #expect(results.count == 3)
        #expect(results[0].message?.count == HistoryStore.evidenceLimit)
        #expect(results[0].splatTitle == "WARNING: at mm/slub.c")
    }

    @Test func queriesSelectByKernelTestGlobAndDate() throws {
        let store = try HistoryStore(path: path)
        try store.record(
            Self.report(["a/1": .pass, "b/1": .pass], at: "2026-11-01T10:00:00Z"), kind: .run)
        try store.record(
            Self.report(["a/1": .fail, "b/1": .pass], at: "2026-12-01T10:00:00Z"), kind: .run)
        try store.record(
            Self.report(["a/1": .pass], digest: "bbbb2222", at: "2026-12-01T11:00:00Z"),
            kind: .run)
        // A kernel without a digest is known by its path and release.
        try store.record(
            Self.report(["a/1": .timeout], digest: nil, at: "2026-12-01T12:00:00Z"), kind: .run)

        let onA = try store.results(onKernel: "aaaa1111", tests: ["a/1"])
        #expect(onA.map(\.outcome) == ["pass", "fail"])
        #expect(onA.map(\.startedAt) == onA.map(\.startedAt).sorted())
        #expect(
            try store.results(onKernel: "path:/boot/vmlinuz|6.12.118").map(\.outcome) == ["timeout"]
        )
        #expect(try store.runs(of: HistoryQuery(glob: "b/*")).count == 2)
        #expect(
            try store.runs(of: HistoryQuery(glob: "a/*", kernel: "bbbb")).map(\.outcome) == ["pass"]
        )
        #expect(try store.runs(of: HistoryQuery(kernel: "/boot/vmlinuz")).count == 6)
        let december = try HistoryQuery.since(parsing: "2026-12-01")
        #expect(try store.runs(of: HistoryQuery(glob: "a/1", since: december)).count == 3)
        #expect(try store.runs(of: HistoryQuery(tests: [])).isEmpty)
    }

    /// Two runners writing at once, each through its own connection pool
    /// (as two processes would): every run lands, none is refused as busy.
    @Test func twoWritersAtOnceLoseNothing() throws {
        _ = try HistoryStore(path: path)
        let errors = Mutex<[String]>([])
        let path = self.path
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            do {
                let store = try HistoryStore(path: path)
                for run in 0..<25 {
                    try store.record(
                        Self.report(
                            ["w\(writer)/t": .pass, "shared": run % 2 == 0 ? .pass : .fail],
                            at: "2026-12-01T10:00:00Z"),
                        kind: .run)
                }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        #expect(errors.withLock { $0 }.isEmpty)
        let store = try HistoryStore(path: path)
        #expect(try store.allRuns().count == 50)
        #expect(try store.runs(of: HistoryQuery(tests: ["shared"])).count == 50)
    }

    /// A file that is not a database: one warning naming it, no notes, no
    /// throw; the run's report comes back as it was.
    @Test func aCorruptStoreWarnsOnceAndTheRunGoesOn() throws {
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        let warnings = Mutex<[String]>([])
        let recorder = HistoryRecorder(cache: Cache(root: scratch)) { line in
            warnings.withLock { $0.append(line) }
        }
        let report = Self.report(["a/1": .fail], at: "2026-12-01T10:00:00Z")
        let after = recorder.classifyAndRecord(report, kind: .run)
        recorder.record(report, kind: .run)
        #expect(after == report)
        let said = warnings.withLock { $0 }
        #expect(said.count == 1, "\(said)")
        #expect(said.first?.contains(path) == true)
        #expect(said.first?.contains("--no-history") == true)
        // The file is left as it was: the store never overwrites what it cannot read.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).allSatisfy { $0 == 0x5A })
        // The read-only commands refuse it instead, naming it.
        let error = try #require(
            refusal { _ = try HistoryStore.existing(in: Cache(root: scratch)) })
        #expect(error.input == path && error.domain == .cache && error.exitCode == 2)
    }

    /// Whether this machine lets the tests bind-mount a file read-only (root
    /// with CAP_SYS_ADMIN): the only real read-only store root can get.
    static let canMountReadOnly: Bool = {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "history-mount-probe-\(UUID())")
        defer { try? FileManager.default.removeItem(at: file) }
        guard FileManager.default.createFile(atPath: file.path, contents: Data()),
            (try? mount(["--bind", file.path, file.path])) == true
        else { return false }
        // A mount the probe cannot undo would outlive the tests: none then.
        return (try? mount([file.path], command: "umount")) == true
    }()

    @discardableResult
    static func mount(_ arguments: [String], command: String = "mount") throws -> Bool {
        try SystemRunner().run(Command(command, arguments), timeout: 30).succeeded
    }

    /// A store on a read-only file (a cache copied off a read-only medium,
    /// a file another user owns): one warning naming it, and the run's
    /// report as it was.
    @Test(.enabled(if: canMountReadOnly, "needs to bind-mount a file read-only"))
    func aReadOnlyStoreWarnsOnceAndTheRunGoesOn() throws {
        try HistoryStore(path: path).record(
            Self.report(["a/1": .pass], at: "2026-12-01T10:00:00Z"), kind: .run)
        try #require(try Self.mount(["--bind", path, path]))
        defer { _ = try? Self.mount([path], command: "umount") }
        try #require(try Self.mount(["-o", "remount,ro,bind", path]))
        let warnings = Mutex<[String]>([])
        let recorder = HistoryRecorder(cache: Cache(root: scratch)) { line in
            warnings.withLock { $0.append(line) }
        }
        let report = Self.report(["a/1": .fail], at: "2026-12-01T11:00:00Z")
        #expect(recorder.classifyAndRecord(report, kind: .run) == report)
        recorder.record(report, kind: .run)
        let said = warnings.withLock { $0 }
        #expect(said.count == 1, "\(said)")
        #expect(said.first?.contains(path) == true)
        #expect(said.first?.contains("readonly") == true)
    }

    /// A store that cannot be opened at all (its cache is under a regular
    /// file: as root, the one place a write is refused without a mount).
    @Test func aStoreThatCannotBeOpenedWarnsAndTheRunGoesOn() throws {
        let file = scratch.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        let warnings = Mutex<[String]>([])
        let recorder = HistoryRecorder(cache: Cache(root: file)) { line in
            warnings.withLock { $0.append(line) }
        }
        let report = Self.report(["a/1": .pass], at: "2026-12-01T10:00:00Z")
        #expect(recorder.classifyAndRecord(report, kind: .run) == report)
        let said = warnings.withLock { $0 }
        #expect(
            said.count == 1 && said[0].contains(file.appendingPathComponent("history.sqlite").path))
    }

    /// The recorder on a good store: the second run's failure is known, a
    /// pass after it is flaky, and the notes reach the report.
    @Test func theRecorderClassifiesAgainstEarlierRunsThenRecords() throws {
        let recorder = HistoryRecorder(cache: Cache(root: scratch)) {
            Issue.record("warned: \($0)")
        }
        let first = recorder.classifyAndRecord(
            Self.report(["a/1": .fail, "b/1": .pass], at: "2026-12-01T10:00:00Z"), kind: .run)
        #expect(first.records.allSatisfy { $0.history == nil })
        let second = recorder.classifyAndRecord(
            Self.report(["a/1": .fail, "b/1": .fail], at: "2026-12-01T11:00:00Z"), kind: .run)
        #expect(
            second.records.map(\.history) == [
                .known(failed: 1, of: 1),
                .new(
                    lastPassed: try #require(
                        ISO8601DateFormatter().date(from: "2026-12-01T10:00:00Z"))),
            ])
        let third = recorder.classifyAndRecord(
            Self.report(["a/1": .pass, "b/1": .pass], at: "2026-12-01T12:00:00Z"), kind: .run)
        #expect(
            third.records.map(\.history) == [.flaky(failed: 2, of: 2), .flaky(failed: 1, of: 2)])
        // Another kernel has no history yet.
        let other = recorder.classifyAndRecord(
            Self.report(["a/1": .fail], digest: "cccc", at: "2026-12-01T13:00:00Z"), kind: .run)
        #expect(other.records[0].history == nil)
    }
}

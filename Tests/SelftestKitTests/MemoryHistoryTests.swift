import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Memory over time: tables from a captured run (`Fixtures/memory`) stored
/// with their run, found again by REF, compared per map type and size.
@Suite(.tags(.unit)) struct MemoryHistoryTests {
    static func cache() throws -> Cache {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("selftests-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return Cache(root: root)
    }

    /// The captured run on a kernel of `digest`, with HASH 4/4 × 1,024
    /// preallocated measured `grow` bytes more than it was.
    static func run(digest: String, commit: String, grow: Int = 0) throws -> RunReport {
        var report = try MemoryFixture.report(MemoryFixture.defaultRun)
        report.kernelIdentity = KernelIdentity(
            path: "/k/\(digest)", release: "6.12.118", imageDigest: digest, commit: commit)
        guard grow != 0 else { return report }
        for index in report.records.indices {
            report.records[index].diagnostics = report.records[index].diagnostics.map { line in
                line.contains(#""case":"hash_prealloc_4_4_1024""#)
                    ? line.replacingOccurrences(
                        of: #""measured":86016"#, with: "\"measured\":\(86016 + grow)")
                    : line
            }
        }
        return report
    }

    @Test func aRecordedRunKeepsItsTableAndEachRefFindsIt() throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let store = try HistoryStore(path: HistoryStore.location(in: cache).path)
        let before = try Self.run(digest: "aaaa1111", commit: "0123456789abcdef")
        let id = try store.record(before, kind: .run)
        let table = MemoryMeasurement.all(in: before)
        #expect(table.count > 10)
        for ref in ["\(id)", "aaaa11", "/k/aaaa1111", "0123456", "0123456789abcdef"] {
            let found = try MemoryReference.resolve(ref, cache: cache)
            #expect(found.runId == id, "\(ref)")
            #expect(found.measurements == table, "\(ref)")
        }
    }

    @Test func theComparisonSaysWhatMovedPerMapTypeAndSize() throws {
        let before = MemoryMeasurement.all(in: try Self.run(digest: "a", commit: "c1"))
        let after = MemoryMeasurement.all(in: try Self.run(digest: "b", commit: "c2", grow: 4096))
        let rows = MemoryComparison.compare(before, after)
        #expect(rows.count == Set(after.map(MemoryComparison.key)).count)
        let moved = rows.filter { $0.measuredDelta != 0 }
        #expect(moved.map(\.map) == ["HASH prealloc 4/4 × 1,024"])
        #expect(moved.first?.reportedDelta == 0)
        let text = MemoryComparison.text(rows.filter { $0.moved(noise: [:]) })
        #expect(text.contains("HASH prealloc 4/4 × 1,024"))
        #expect(text.contains("+4,096 (+4.8%)"), "\(text)")
        #expect(text.split(separator: "\n").count == 3, "header, rule, one row")
        // A map one side did not measure is new or gone, not a zero.
        let gone = MemoryComparison.compare(before, Array(after.dropFirst()))
        #expect(gone.last?.after == nil)
        #expect(MemoryComparison.text(gone).contains("gone"))
    }

    @Test func aHistoryWithoutATableAndAnUnknownRefAreRefusedNamingTheRef() throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let none = #expect(throws: SelftestError.self) {
            try MemoryReference.resolve("v6.12", cache: cache)
        }
        #expect(none?.kind == .usage)
        #expect(none?.input == "--compare v6.12")
        #expect(none?.message.contains("holds no memory table") == true)
        let store = try HistoryStore(path: HistoryStore.location(in: cache).path)
        try store.record(try Self.run(digest: "aaaa1111", commit: "0123456789abcdef"), kind: .run)
        let unknown = #expect(throws: SelftestError.self) {
            try MemoryReference.resolve("fedcba98", cache: cache)
        }
        #expect(unknown?.kind == .usage)
        #expect(unknown?.message.contains("names no run with a memory table") == true)
        #expect(unknown?.fix?.contains("run id") == true)
    }

    /// A series whose selection holds the memory tests: a table for the
    /// first step that measured, then per patch the maps that moved.
    @Test func aSeriesShowsEachPatchsMemoryDeltas() throws {
        func step(_ position: Int, _ run: RunReport) -> SeriesStep {
            SeriesStep(
                position: position, subject: "p\(position)", commit: "c\(position)abcdef0123",
                messageId: nil, build: StepBuild(built: true, seconds: 1), kernel: nil,
                carriedFrom: nil, reused: nil, verdicts: [], run: run, retryRuns: [],
                seconds: [:], directory: "/tmp")
        }
        let steps = [
            step(0, try Self.run(digest: "a", commit: "c0")),
            step(1, try Self.run(digest: "a", commit: "c1")),
            step(2, try Self.run(digest: "b", commit: "c2", grow: 8192)),
        ]
        let report = SeriesReport(
            title: "t", tree: "/t", worktree: "/w", baseNote: "--range", total: 2,
            tests: ["memory/hash/cost"], steps: steps, regressions: [], flakes: [], fixed: [],
            buildBreaks: [], notApplied: nil, startedAt: "2026-12-02T00:00:00Z", seconds: 1,
            artifactsDirectory: "/a")
        let lines = SeriesMemory.lines(report)
        #expect(lines.first?.hasPrefix("Memory per patch") == true)
        #expect(lines.contains { $0.hasPrefix("patch 1/2") && $0.contains("no map's cost moved") })
        #expect(lines.contains { $0.hasPrefix("patch 2/2") && $0.contains("1 map(s) moved") })
        #expect(
            lines.contains { $0.contains("HASH prealloc 4/4 × 1,024") && $0.contains("+8,192") })
        #expect(SeriesText.text(report).contains("Memory per patch"))
        #expect(SeriesText.markdown(report).contains("Memory per patch"))

        // With the noise a history saw, the same 8 KiB is not a move.
        var noisy = report
        noisy.memoryNoise = ["HASH prealloc 4/4 × 1,024": 12288]
        let quiet = SeriesMemory.lines(noisy)
        #expect(
            quiet.contains {
                $0.hasPrefix("patch 2/2")
                    && $0.contains("no map's cost moved beyond run-to-run noise")
            }, "\(quiet)")
        #expect(quiet.contains("  within noise: HASH prealloc 4/4 × 1,024 +8,192 (noise ±12,288)"))
        noisy.memoryNoise = ["HASH prealloc 4/4 × 1,024": 4096]
        #expect(
            SeriesMemory.lines(noisy).contains {
                $0.hasPrefix("patch 2/2") && $0.contains("1 map(s) moved")
            })
    }

    /// The noise of a map is the widest spread of its measured bytes over
    /// the runs of one kernel, counted only from three runs of it on.
    @Test func theNoiseIsTheWidestSpreadOverRunsOfOneKernel() throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let store = try HistoryStore(path: HistoryStore.location(in: cache).path)
        for grow in [0, 12288, 4096] {
            try store.record(try Self.run(digest: "a", commit: "c1", grow: grow), kind: .run)
        }
        // Two runs of another kernel, far apart: too few to say.
        for grow in [0, 65536] {
            try store.record(try Self.run(digest: "b", commit: "c2", grow: grow), kind: .run)
        }
        let noise = try store.memoryNoise()
        #expect(noise["HASH prealloc 4/4 × 1,024"] == 12288)
        let table = MemoryMeasurement.all(in: try Self.run(digest: "a", commit: "c1"))
        #expect(noise.count == Set(table.map(MemoryComparison.key)).count)
        #expect(
            noise.filter { $0.key != "HASH prealloc 4/4 × 1,024" }.values.allSatisfy { $0 == 0 })
        #expect(try store.memoryNoise(minimumRuns: 2)["HASH prealloc 4/4 × 1,024"] == 65536)
    }
}

import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `--shard K/N` and `selftests merge`: N runners test the selection once
/// between them, and their reports join into the one a single runner writes.
@Suite(.tags(.unit)) struct ShardTests {
    /// The default selection and the whole catalog, over many N: every test
    /// in exactly one shard, shares that differ by one at most, each share
    /// in the selection's order, the same split every time.
    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 16, 37, 50])
    func theShardsTogetherAreExactlyTheSelection(count: Int) throws {
        for selection in [TestFilter(nil).select(from: Catalog.all), Catalog.all] {
            let names = selection.map(\.name)
            let shares = (1...count).map { Shard(index: $0, count: count).select(names) }
            #expect(shares.flatMap { $0 }.sorted() == names.sorted())
            #expect(Set(shares.flatMap { $0 }).count == names.count)
            let sizes = shares.map(\.count)
            #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
            for share in shares {
                #expect(share == names.filter { share.contains($0) }, "out of order")
            }
            #expect(shares == (1...count).map { Shard(index: $0, count: count).select(names) })
        }
    }

    @Test func shardsAreReadAsKOfN() throws {
        #expect(try Shard(parsing: "2/8") == Shard(index: 2, count: 8))
        #expect(try Shard(parsing: "1/1") == Shard(index: 1, count: 1))
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "-1/2", "1/2/3", ""] {
            let error = #expect(throws: SelftestError.self) { try Shard(parsing: bad) }
            #expect(error?.domain == .options, "\(bad)")
            #expect(error?.input == "--shard \(bad)")
        }
    }

    /// Reports as `run --shard K/3` writes them, for one kernel.
    func shards(
        _ count: Int, selection: [String] = ["a/1", "a/2", "b/1", "b/2", "c/1"],
        digest: String = "d1g3st"
    ) -> [ReportMerge.Input] {
        (1...count).map { index in
            let shard = Shard(index: index, count: count)
            var report = RunReport(
                kernel: "/boot/vmlinuz", kernelRelease: "6.12.118", accelerator: .tcg,
                startedAt: "2026-12-02T10:0\(index):00Z", phases: ["boot": Double(index)])
            report.kernelIdentity = KernelIdentity(
                path: "/boot/vmlinuz", release: "6.12.118", imageDigest: digest)
            report.shard = ShardRecord(shard: shard, selection: selection)
            report.records = shard.select(selection).map {
                TestRecord(name: $0, outcome: $0 == "b/1" ? .fail : .pass)
            }
            return (path: "shard-\(index).json", report: report)
        }
    }

    @Test func mergedShardsAreTheWholeRunInOrder() throws {
        let merged = try ReportMerge.merge(shards(3).reversed())
        #expect(merged.records.map(\.name) == ["a/1", "a/2", "b/1", "b/2", "c/1"])
        #expect(merged.records.map(\.outcome) == [.pass, .pass, .fail, .pass, .pass])
        #expect(merged.exitCode == 1)
        #expect(merged.shard == nil)
        #expect(merged.startedAt == "2026-12-02T10:01:00Z")
        #expect(merged.phases["boot"] == 3, "side by side: the slowest shard's time")
        // Through the JSON a runner writes and merge reads.
        let decoded = try shards(2).map {
            (path: $0.path, report: try JSONReport.report(from: JSONReport.data(for: $0.report)))
        }
        #expect(try ReportMerge.merge(decoded).records.count == 5)
    }

    @Test func shardsThatDoNotBelongTogetherAreRefusedNamingTheFile() throws {
        var other = shards(2, selection: ["a/1", "a/2"])[1]
        other.path = "other-filter.json"
        var kernel = shards(2, digest: "0th3r")[1]
        kernel.path = "other-kernel.json"
        var plain = shards(2)[1]
        plain.report.shard = nil
        plain.path = "plain.json"
        let cases: [([ReportMerge.Input], String?)] = [
            ([shards(2)[0], other], "other-filter.json"),
            ([shards(2)[0], kernel], "other-kernel.json"),
            ([shards(2)[0], plain], "plain.json"),
            ([shards(2)[0], shards(2)[0]], "shard-1.json"),
            ([shards(3)[0], shards(3)[2]], "shard-1.json shard-3.json"),
            ([], nil),
        ]
        for (inputs, input) in cases {
            let error = #expect(throws: SelftestError.self) { try ReportMerge.merge(inputs) }
            #expect(error?.domain == .reports)
            #expect(error?.input == input, "\(inputs.map(\.path))")
            #expect(error?.exitCode == 2)
        }
    }

    /// Durations as a CI would share them: the catalog's expected seconds,
    /// with some tests left unknown (they weigh the median).
    static func durations(for names: [String]) -> ShardDurations {
        let expected = Dictionary(
            Catalog.all.map { ($0.name, $0.expectedSeconds ?? 0.5) },
            uniquingKeysWith: { a, _ in a })
        var seconds: [String: Double] = [:]
        for (index, name) in names.enumerated() where index % 5 != 3 {
            seconds[name] = (expected[name] ?? 0.5) + Double(index % 7) * 0.25
        }
        return ShardDurations(seconds: seconds, source: "test")
    }

    /// Balanced by durations, over many N: every test in exactly one shard,
    /// each share in the selection's order, the same split every time, and
    /// no shard heavier than the lightest by more than one test's weight
    /// (what longest-first, to the least loaded, guarantees).
    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 16, 37, 50])
    func durationBalancedShardsTogetherAreExactlyTheSelection(count: Int) throws {
        for selection in [TestFilter(nil).select(from: Catalog.all), Catalog.all] {
            let names = selection.map(\.name)
            let durations = Self.durations(for: names)
            let weights = try #require(durations.weights(for: names))
            let weight = Dictionary(uniqueKeysWithValues: zip(names, weights))
            let shares = (1...count).map {
                Shard(index: $0, count: count).select(names, name: { $0 }, durations: durations)
            }
            #expect(shares.flatMap { $0 }.sorted() == names.sorted())
            #expect(Set(shares.flatMap { $0 }).count == names.count)
            for share in shares {
                #expect(share == names.filter { share.contains($0) }, "out of order")
            }
            let totals = shares.map { $0.map { weight[$0]! }.reduce(0, +) }
            #expect(
                (totals.max() ?? 0) - (totals.min() ?? 0) <= (weights.max() ?? 0),
                "\(totals)")
            // The same (selection, durations) on another runner: the same split.
            let again = ShardDurations(
                seconds: durations.milliseconds.mapValues { Double($0) / 1000 }, source: "other")
            #expect(
                shares
                    == (1...count).map {
                        Shard(index: $0, count: count).select(names, name: { $0 }, durations: again)
                    })
            #expect(durations.digest(for: names) == again.digest(for: names))
        }
    }

    @Test func durationsBeatCountWhereTestsDifferInWeight() throws {
        let names = ["heavy/1", "heavy/2", "light/1", "light/2", "light/3", "light/4"]
        let durations = ShardDurations(
            seconds: [
                "heavy/1": 60, "heavy/2": 60, "light/1": 1, "light/2": 1, "light/3": 1,
                "light/4": 1,
            ], source: "test")
        let shares = (1...2).map {
            Shard(index: $0, count: 2).select(names, name: { $0 }, durations: durations)
        }
        // By count, shard 1 gets heavy/1 and light/1, light/3: the same; but
        // both heavies in one shard would be 120 s against 4.
        #expect(shares.allSatisfy { $0.filter { $0.hasPrefix("heavy") }.count == 1 })
        // Without any known duration: by count, as before.
        let none = ShardDurations(seconds: [:], source: "empty")
        #expect(
            Shard(index: 1, count: 2).select(names, name: { $0 }, durations: none)
                == Shard(index: 1, count: 2).select(names))
        #expect(none.digest(for: names) == nil)
    }

    @Test func theDigestChangesWithTheDurations() {
        let names = ["a", "b"]
        let one = ShardDurations(seconds: ["a": 1, "b": 2], source: "x")
        #expect(
            one.digest(for: names)
                == ShardDurations(seconds: ["a": 1.0001, "b": 2], source: "y").digest(for: names))
        #expect(
            one.digest(for: names)
                != ShardDurations(seconds: ["a": 1, "b": 3], source: "x").digest(for: names))
        #expect(one.digest(for: names) != one.digest(for: ["a", "b", "c"]))
    }

    /// Shards balanced by different durations could overlap or leave holes:
    /// merge refuses them, naming the file; the same digest merges.
    @Test func shardsBalancedByOtherDurationsAreRefused() throws {
        var inputs = shards(2)
        inputs[0].report.shard?.durationsDigest = "aaaa"
        inputs[1].report.shard?.durationsDigest = "bbbb"
        let error = try #require(refusal { _ = try ReportMerge.merge(inputs) })
        #expect(error.input == "shard-2.json")
        #expect(error.message.contains("durations bbbb against durations aaaa"))
        #expect(error.fix?.contains("--durations") == true)
        inputs[1].report.shard?.durationsDigest = nil
        #expect(refusal { _ = try ReportMerge.merge(inputs) }?.message.contains("by count") == true)
        inputs[1].report.shard?.durationsDigest = "aaaa"
        #expect(try ReportMerge.merge(inputs).records.count == 5)
    }

    /// `--durations FILE`: a --json report or a `history --json` export;
    /// anything else refused naming the file.
    @Test func durationsAreReadFromAReportOrAHistoryExport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "durations-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "")
        report.records = [
            TestRecord(name: "a", outcome: .pass, duration: 1.5),
            TestRecord(name: "b", outcome: .timeout, duration: 300),
        ]
        let reportFile = dir.appendingPathComponent("all.json")
        try JSONReport.data(for: report).write(to: reportFile)
        #expect(try ShardDurations.load(reportFile.path).milliseconds == ["a": 1500])
        let export = HistoryExport(tests: [
            TestHistory(
                test: "c", runs: 3, passed: 3, passRate: 1, lastFailure: nil, flips: 0,
                medianSeconds: 2.25)
        ])
        let exportFile = dir.appendingPathComponent("history.json")
        try DocumentJSON.data(export).write(to: exportFile)
        #expect(try ShardDurations.load(exportFile.path).milliseconds == ["c": 2250])
        let junk = dir.appendingPathComponent("junk.json")
        try Data("{}".utf8).write(to: junk)
        for path in [junk.path, dir.appendingPathComponent("missing").path] {
            let error = refusal { _ = try ShardDurations.load(path) }
            #expect(error?.input == "--durations \(path)")
            #expect(error?.exitCode == 2)
        }
    }
}

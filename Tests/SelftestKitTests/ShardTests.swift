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
                kernel: "/boot/vmlinuz", kernelRelease: "6.12.118", accelerator: "tcg",
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
}

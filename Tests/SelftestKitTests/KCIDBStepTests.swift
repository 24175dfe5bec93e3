import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension NeedsTools {
    /// `series --kcidb` and `bisect --kcidb`: every commit tested, as KCIDB I/O
    /// data that KernelCI's own validator accepts.
    @Suite(.tags(.needsTools)) struct KCIDBStepTests {
        func decode(_ data: Data) throws -> [String: [[String: Any]]] {
            let object = try #require(
                try JSONSerialization.jsonObject(with: data) as? [String: Any])
            return object.compactMapValues { $0 as? [[String: Any]] }
        }

        /// The scripted series: a carried docs patch (1), a regression at 2, a
        /// build break at 3, a flake at 4 re-run twice.
        @Test func aSeriesIsACheckoutAndABuildPerPatchWithItsOwnTests() throws {
            let (report, commits) = try SeriesReportTests.report()
            let data = try KCIDBReport.data(for: report)
            #expect(try KCIDBTests.validate(data) == nil)
            let document = try decode(data)
            let checkouts = try #require(document["checkouts"])
            #expect(checkouts.map { $0["git_commit_hash"] as? String } == commits.map { $0 })
            #expect(checkouts[2]["comment"] as? String == "bpf: break the charge")

            let builds = try #require(document["builds"])
            #expect(
                builds.map { $0["status"] as? String } == ["PASS", "PASS", "PASS", "FAIL", "PASS"])
            #expect((builds[3]["log_excerpt"] as? String)?.contains("expected ';'") == true)
            let misc = try #require(builds[2]["misc"] as? [String: Any])
            #expect(misc["patch"] as? String == "2/4")

            let tests = try #require(document["tests"])
            #expect(
                Set(tests.compactMap { $0["id"] as? String }).count == tests.count, "unique ids")
            let byBuild = Dictionary(grouping: tests) { $0["build_id"] as? String ?? "" }
            let buildIDs = builds.compactMap { $0["id"] as? String }
            #expect(byBuild[buildIDs[3]] == nil, "no test on a kernel that did not build")
            // The carried step has the base's tests under its own build.
            let carried = try #require(byBuild[buildIDs[1]])
            #expect(carried.count == report.steps[0].run?.records.count)
            #expect(
                carried.allSatisfy { ($0["misc"] as? [String: Any])?["carried_from"] as? Int == 0 })
            // The regression fails at its patch, with the re-runs beside it.
            let omem = "bpf.storage.sk.omem_charge_delete"
            let atTwo = try #require(byBuild[buildIDs[2]]).filter { $0["path"] as? String == omem }
            #expect(atTwo.map { $0["status"] as? String } == ["FAIL", "FAIL", "FAIL"])
            // The flake: a timeout (ERROR), then a pass on the re-run.
            let flaky = try #require(byBuild[buildIDs[4]]).filter {
                $0["path"] as? String == "bpf.storage.sk.user_update_flags"
            }
            #expect(flaky.map { $0["status"] as? String } == ["ERROR", "PASS"])
        }

        @Test func aBisectIsEveryCommitItBuiltWithItsMark() throws {
            let (repo, commits) = try BisectorTests.history(6)
            defer { repo.remove() }
            let tester = BisectorTests.tester(commits, firstBad: 4)
            let report = try BisectorTests.bisect(repo, tester, good: commits[0], bad: commits[6])
            let data = try KCIDBReport.data(for: report)
            #expect(try KCIDBTests.validate(data) == nil)
            let document = try decode(data)
            let builds = try #require(document["builds"])
            #expect(builds.count == report.steps.count)
            let marks = builds.compactMap { ($0["misc"] as? [String: Any])?["mark"] as? String }
            #expect(marks == report.steps.map(\.mark.rawValue))
            // The first bad commit's checkout holds a failing test.
            let culprit = try #require(report.culprit?.commit)
            #expect(culprit == commits[4])
            let checkout = "selftests:\(culprit)"
            let bad = try #require(document["builds"]).filter {
                $0["checkout_id"] as? String == checkout
            }.compactMap { $0["id"] as? String }
            let failing = try #require(document["tests"]).filter {
                bad.contains($0["build_id"] as? String ?? "") && $0["status"] as? String == "FAIL"
            }
            #expect(
                failing.contains { $0["path"] as? String == "bpf.storage.sk.omem_charge_delete" })
        }
    }
}

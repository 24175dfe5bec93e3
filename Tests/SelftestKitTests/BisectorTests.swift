import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Bisect step choice: real `git bisect` in a real worktree, scripted
/// builds and verdicts.
@Suite(.tags(.unit)) struct BisectorTests {
    static let test = "storage/sk/omem_charge_delete"

    /// A repository of `count` commits after the base; returns them oldest first.
    static func history(_ count: Int) throws -> (ScratchRepo, [String]) {
        let repo = try ScratchRepo.make()
        var commits = [try repo.git.checked(["rev-parse", "HEAD"])]
        for index in 1...count {
            commits.append(
                try repo.commit(
                    "change \(index)", files: ["kernel/bpf/file\(index).c": "\(index)\n"]))
        }
        return (repo, commits)
    }

    /// A tester where every commit from `firstBad` on fails `test` with `outcome`.
    static func tester(_ commits: [String], firstBad: Int, outcome: Outcome = .fail)
        -> ScriptedTester
    {
        let tester = ScriptedTester(tests: [test, "storage/sk/user_update_flags"])
        for (index, commit) in commits.enumerated() where index >= firstBad {
            tester.outcomes[commit] = [test: [outcome]]
        }
        return tester
    }

    static func bisect(
        _ repo: ScratchRepo, _ tester: ScriptedTester, good: String, bad: String, retries: Int = 2
    ) throws -> BisectReport {
        let worktree = try Worktree.open(tree: repo.url, at: bad, cache: repo.cache)
        defer { worktree.close() }
        return try CommitDriver(
            tester: tester, worktree: worktree, retries: retries, observer: SeriesRecorder(),
            directory: try repo.cache.directory("runs", "bisect-\(UUID().uuidString)")
        ).bisect(good: good, bad: bad)
    }

    @Test(arguments: [1, 5, 8, 13, 16])
    func theFirstBadCommitIsFoundWithinTheBuildBound(firstBad: Int) throws {
        let (repo, commits) = try Self.history(16)
        defer { repo.remove() }
        let tester = Self.tester(commits, firstBad: firstBad)
        let report = try Self.bisect(repo, tester, good: commits[0], bad: "HEAD")

        #expect(report.culprit?.commit == commits[firstBad])
        #expect(report.culprit?.subject == "change \(firstBad)")
        #expect(report.culprit?.evidence.first?.lines == ["\(Self.test): expected 0, got 4096"])
        #expect(report.commits == 16)
        #expect(report.builds <= report.bound, "\(report.builds) builds, bound \(report.bound)")
        #expect(report.bound == 5)
        #expect(report.signature.failures == [TestOutcome(test: Self.test, outcome: .fail)])
        #expect(report.log.contains("# first bad commit: [\(commits[firstBad])]"))
        #expect(FileManager.default.fileExists(atPath: report.logFile))
        // Bisect steps run only the failing test; good ones pass on every try.
        let goods = report.steps.dropFirst(2).filter { $0.mark == .good }
        #expect(goods.allSatisfy { $0.tries.count == 3 })
        #expect(report.steps[0].label == "bad" && report.steps[1].label == "good")
    }

    @Test func aCommitThatDoesNotBuildIsSkippedAndTheBoundAllowsForIt() throws {
        let (repo, commits) = try Self.history(8)
        defer { repo.remove() }
        let tester = Self.tester(commits, firstBad: 6)
        tester.builds[commits[4]] = .fails("implicit declaration of function 'bar'")
        let report = try Self.bisect(repo, tester, good: commits[0], bad: commits[8])
        #expect(report.culprit?.commit == commits[6])
        let skipped = report.steps.filter { $0.mark == .skip }
        #expect(skipped.map(\.step.commit) == [commits[4]])
        #expect(skipped.first?.reason == "does not build")
        #expect(report.builds <= report.bound)
        #expect(report.log.contains("git bisect skip \(commits[4])"))
    }

    @Test func aDifferentKindOfFailureIsSkippedNotCalledBad() throws {
        let (repo, commits) = try Self.history(4)
        defer { repo.remove() }
        let tester = Self.tester(commits, firstBad: 3)
        tester.outcomes[commits[2]] = [Self.test: [.kernelCrash]]
        let report = try Self.bisect(repo, tester, good: commits[0], bad: commits[4])
        let step = report.steps.first { $0.step.commit == commits[2] }
        #expect(step?.mark == .skip)
        #expect(step?.reason == "fails, but not as at --bad")
        #expect(report.culprit?.commit == commits[3] || report.candidates.contains(commits[3]))
    }

    @Test func aFlakyFailureAtBadIsRefused() throws {
        let (repo, commits) = try Self.history(3)
        defer { repo.remove() }
        let tester = ScriptedTester(tests: [Self.test])
        tester.outcomes[commits[3]] = [Self.test: [.fail, .pass]]
        #expect {
            try Self.bisect(repo, tester, good: commits[0], bad: commits[3])
        } throws: { error in
            let e = error as? SelftestError
            return e?.exitCode == 2 && e?.message.contains("fails only flakily") == true
        }
    }

    @Test func aGoodThatAlsoFailsAndABadThatPassesAreRefused() throws {
        let (repo, commits) = try Self.history(3)
        defer { repo.remove() }
        let failing = Self.tester(commits, firstBad: 0)
        #expect {
            try Self.bisect(repo, failing, good: commits[0], bad: commits[3])
        } throws: {
            ($0 as? SelftestError)?.message.contains("is not good: fails as at --bad") == true
        }

        let passing = ScriptedTester(tests: [Self.test])
        #expect {
            try Self.bisect(repo, passing, good: commits[0], bad: commits[3])
        } throws: { ($0 as? SelftestError)?.message.contains("passes every selected test") == true }

        #expect {
            try Self.bisect(repo, passing, good: commits[3], bad: commits[0])
        } throws: {
            ($0 as? SelftestError)?.message.contains("is not an ancestor of --bad") == true
        }
        // The worktree was left as it was found: no bisect in progress.
        let worktree = try Worktree.open(tree: repo.url, at: commits[0], cache: repo.cache)
        defer { worktree.close() }
        #expect(
            !FileManager.default.fileExists(
                atPath: try worktree.git.gitDirectory().appendingPathComponent("BISECT_LOG").path))
    }

    @Test(arguments: [(1, 1), (2, 2), (4, 3), (5, 4), (16, 5), (17, 6)])
    func theBoundIsCeilLog2PlusOne(commits: Int, bound: Int) {
        #expect(BisectReport.bound(commits: commits, skipped: 0) == bound)
        #expect(BisectReport.bound(commits: commits, skipped: 2) == bound + 2)
    }
}

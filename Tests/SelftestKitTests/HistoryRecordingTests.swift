import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// What a series and a bisect record: every run that happened, re-runs
/// included, with its step; nothing for a step whose results carried over
/// or whose kernel did not build. Real worktrees, scripted builds and
/// verdicts, a real store.
@Suite(.tags(.unit)) struct HistoryRecordingTests {
    static func recorder(_ cache: Cache) -> HistoryRecorder {
        HistoryRecorder(cache: cache) { Issue.record("warned: \($0)") }
    }

    static func runs(_ cache: Cache) throws -> [HistoryRun] {
        try HistoryStore(path: HistoryStore.location(in: cache).path).allRuns()
    }

    @Test func aSeriesRecordsEachStepsRunAndReRuns() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        let c = setup.commits
        let tester = ScriptedTester(tests: SeriesRunnerTests.tests)
        tester.builds = [
            c[0]: .kernel(digest: "k0"), c[2]: .kernel(digest: "k2"),
            c[3]: .fails("expected ';' before '}' token"), c[4]: .kernel(digest: "k4"),
        ]
        tester.outcomes = [
            "k2": ["storage/sk/omem_charge_delete": [.fail]],
            "k4": ["storage/sk/omem_charge_delete": [.fail]],
        ]
        let worktree = try Worktree.open(
            tree: setup.repo.url, at: setup.plan.base.commit, cache: setup.repo.cache)
        defer { worktree.close() }
        var driver = CommitDriver(
            tester: tester, worktree: worktree, retries: 2, observer: SeriesRecorder(),
            directory: try setup.repo.cache.directory("runs", "series"))
        driver.history = Self.recorder(setup.repo.cache)
        _ = try driver.series(setup.plan)

        let runs = try Self.runs(setup.repo.cache)
        // 0 ran; 1 (docs only) carried 0's results; 2 ran and re-ran its
        // new failure twice; 3 did not build; 4 failed as 2 did: no re-run.
        #expect(runs.count == tester.runs.count)
        #expect(runs.map(\.stepPosition) == [0, 2, 2, 2, 4])
        #expect(runs.map(\.attempt) == [0, 0, 1, 2, 0])
        #expect(runs.map(\.stepCommit) == [c[0], c[2], c[2], c[2], c[4]])
        #expect(runs.allSatisfy { $0.kind == "series-step" })
        #expect(runs.map(\.kernelKey) == ["k0", "k2", "k2", "k2", "k4"])
        let store = try HistoryStore(path: HistoryStore.location(in: setup.repo.cache).path)
        let onK2 = try store.results(onKernel: "k2", tests: ["storage/sk/omem_charge_delete"])
        #expect(onK2.map(\.outcome) == ["fail", "fail", "fail"])
    }

    @Test func aBisectRecordsEveryTryOfEveryStep() throws {
        let (repo, commits) = try BisectorTests.history(8)
        defer { repo.remove() }
        let tester = BisectorTests.tester(commits, firstBad: 5)
        let worktree = try Worktree.open(tree: repo.url, at: "HEAD", cache: repo.cache)
        defer { worktree.close() }
        var driver = CommitDriver(
            tester: tester, worktree: worktree, retries: 2, observer: SeriesRecorder(),
            directory: try repo.cache.directory("runs", "bisect"))
        driver.history = Self.recorder(repo.cache)
        let report = try driver.bisect(good: commits[0], bad: "HEAD")
        #expect(report.culprit?.commit == commits[5])

        let runs = try Self.runs(repo.cache)
        #expect(runs.count == tester.runs.count)
        #expect(runs.allSatisfy { $0.kind == "bisect-step" })
        #expect(runs.first?.stepLabel == "bad")
        #expect(runs.first?.stepCommit == commits[8])
        #expect(runs.contains { $0.stepLabel == "good" && $0.stepCommit == commits[0] })
        #expect(runs.contains { $0.stepLabel == "step 1" })
        // --bad's failure re-ran twice (attempts 0, 1, 2); good passed three tries.
        #expect(runs.filter { $0.stepLabel == "bad" }.map(\.attempt) == [0, 1, 2])
        #expect(runs.filter { $0.stepLabel == "good" }.map(\.attempt) == [0, 1, 2])
    }
}

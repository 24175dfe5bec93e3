import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// A series run again, re-applied (new commit ids, the same trees): the
/// steps the history holds whole results for are neither built nor booted,
/// and say which run they reused; `--fresh`, other inputs or an earlier
/// result without a verdict from the kernel run them again. Real
/// worktrees and store, scripted builds and verdicts.
@Suite(.tags(.unit)) struct SeriesReuseTests {
    static let broken = "storage/sk/omem_charge_delete"

    /// The first series: the base, docs, a break (patch 2), two patches
    /// after it; `outcomes` scripted on patch 2's kernel.
    static func firstSeries(
        _ setup: SeriesRunnerTests.Setup, outcomes: [Outcome] = [.fail]
    ) throws -> (SeriesReport, ScriptedTester) {
        let tester = ScriptedTester(tests: SeriesRunnerTests.tests)
        tester.reuseInputs = "inputs-1"
        tester.outcomes = [setup.commits[2]: [broken: outcomes]]
        return (try run(setup, setup.plan, tester: tester), tester)
    }

    static func run(
        _ setup: SeriesRunnerTests.Setup, _ plan: SeriesPlan, tester: ScriptedTester,
        fresh: Bool = false
    ) throws -> SeriesReport {
        let worktree = try Worktree.open(
            tree: setup.repo.url, at: plan.base.commit, cache: setup.repo.cache)
        defer { worktree.close() }
        var driver = CommitDriver(
            tester: tester, worktree: worktree, retries: 2, observer: SeriesRecorder(),
            directory: try setup.repo.cache.directory("runs", "series-\(UUID().uuidString)"))
        driver.history = HistoryRecorder(cache: setup.repo.cache) { Issue.record("warned: \($0)") }
        driver.fresh = fresh
        return try driver.series(plan)
    }

    /// The same patches made again on the same base, as `git am` of a v2
    /// would: new commit ids, the same trees (the last one changed when
    /// `change` is given).
    static func reapply(_ setup: SeriesRunnerTests.Setup, change: String? = nil) throws
        -> SeriesPlan
    {
        let git = setup.repo.git
        var parent = setup.commits[0]
        for commit in setup.commits.dropFirst() {
            var tree = try git.checked(["rev-parse", "\(commit)^{tree}"])
            if let change, commit == setup.commits.last {
                // The reworked patch: its tree with one file changed, made
                // in a scratch index so the repository's checkout stays.
                var env = ScratchRepo.identity
                env["GIT_INDEX_FILE"] =
                    setup.repo.url.deletingLastPathComponent().appendingPathComponent("v2-index")
                    .path
                let blob = try git.checked(
                    ["hash-object", "-w", "--stdin"], stdin: Data(change.utf8))
                try git.checked(["read-tree", commit], environment: env)
                try git.checked(
                    ["update-index", "--cacheinfo", "100644,\(blob),kernel/bpf/syscall.c"],
                    environment: env)
                tree = try git.checked(["write-tree"], environment: env)
            }
            let subject = try git.checked(["log", "-1", "--format=%s", commit])
            parent = try git.checked(
                ["commit-tree", tree, "-p", parent, "-m", subject + " (v2)"],
                environment: ScratchRepo.identity)
        }
        return try SeriesPlan.range("\(setup.commits[0])..\(parent)", tree: git)
    }

    static func store(_ setup: SeriesRunnerTests.Setup) throws -> HistoryStore {
        try HistoryStore(path: HistoryStore.location(in: setup.repo.cache).path)
    }

    @Test func aReappliedSeriesBootsNothingAndCarriesEveryVerdict() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        let (first, tester) = try Self.firstSeries(setup)
        #expect(first.regressions.map(\.firstBad.position) == [2])
        let verdictsBefore = try Self.store(setup).runs(of: HistoryQuery())

        let v2 = try Self.reapply(setup)
        #expect(v2.patches.map(\.commit) != first.steps.dropFirst().map(\.commit))
        let again = ScriptedTester(tests: SeriesRunnerTests.tests)
        again.reuseInputs = "inputs-1"
        let second = try Self.run(setup, v2, tester: again)

        #expect(again.runs.isEmpty, "no boot: \(again.runs)")
        #expect(again.builtCommits.isEmpty, "no build: \(again.builtCommits)")
        #expect(second.steps.map { $0.verdicts } == first.steps.map { $0.verdicts })
        #expect(second.regressions.map(\.firstBad.commit) == [v2.patches[1].commit])
        #expect(second.regressions.first?.evidence == first.regressions.first?.evidence)
        // Every step that ran the first time is reused, naming the run and
        // the commit it was; the docs-only patch carries the base's, as before.
        let reused = second.steps.map { $0.reused?.commit }
        #expect(
            reused == [
                first.steps[0].commit, nil, first.steps[2].commit, first.steps[3].commit,
                first.steps[4].commit,
            ])
        #expect(second.steps[1].carriedFrom == 0)
        #expect(second.steps[2].retryRuns.count == 2, "the re-runs of the failure come along")

        // Recorded as reuses: a row per reused step pointing at its run,
        // and not one verdict more for history or flakes to count.
        let store = try Self.store(setup)
        let rows = try store.allRuns()
        let reuses = rows.filter { $0.reusedFrom != nil }
        #expect(reuses.count == 4)
        #expect(Set(reuses.compactMap(\.reusedFrom)).isSubset(of: Set(rows.compactMap(\.id))))
        #expect(
            reuses.map(\.stepCommit) == [v2.base.commit] + [1, 2, 3].map { v2.patches[$0].commit })
        #expect(try store.runs(of: HistoryQuery()) == verdictsBefore)
        #expect(tester.runs.count == rows.count - reuses.count)
    }

    @Test func freshRunsEveryStepAgain() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        let (_, tester) = try Self.firstSeries(setup)
        let again = ScriptedTester(tests: SeriesRunnerTests.tests)
        again.reuseInputs = "inputs-1"
        again.outcomes = tester.outcomes
        let second = try Self.run(setup, setup.plan, tester: again, fresh: true)
        #expect(again.runs == tester.runs)
        #expect(second.steps.allSatisfy { $0.reused == nil })
    }

    @Test func otherProgramsOrAgentRunEveryStepAgain() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        let (_, tester) = try Self.firstSeries(setup)
        let again = ScriptedTester(tests: SeriesRunnerTests.tests)
        again.reuseInputs = "inputs-2: a program changed"
        again.outcomes = tester.outcomes
        let second = try Self.run(setup, setup.plan, tester: again)
        #expect(again.runs == tester.runs)
        #expect(second.steps.allSatisfy { $0.reused == nil })
    }

    @Test func aV2ThatChangesTheLastPatchBootsOnlyFromIt() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        _ = try Self.firstSeries(setup)
        let v2 = try Self.reapply(setup, change: "change 3, reworked\n")
        let again = ScriptedTester(tests: SeriesRunnerTests.tests)
        again.reuseInputs = "inputs-1"
        let second = try Self.run(setup, v2, tester: again)
        let last = try #require(v2.patches.last?.commit)
        #expect(again.builtCommits == [last])
        #expect(again.runs.count == 1)
        #expect(again.runs.allSatisfy { $0.hasPrefix("run \(last) ") })
        #expect(second.steps.map { $0.reused != nil } == [true, false, true, true, false])
    }

    /// A step whose result the runner did not get from the kernel (an
    /// infra-error, here on every try) is run again; the rest is reused.
    @Test func aStepWithoutAVerdictFromTheKernelIsRunAgain() throws {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        _ = try Self.firstSeries(setup, outcomes: [.infraError])
        let again = ScriptedTester(tests: SeriesRunnerTests.tests)
        again.reuseInputs = "inputs-1"
        let v2 = try Self.reapply(setup)
        let second = try Self.run(setup, v2, tester: again)
        #expect(again.builtCommits == [v2.patches[1].commit])
        #expect(!again.runs.isEmpty)
        #expect(again.runs.allSatisfy { $0.hasPrefix("run \(v2.patches[1].commit) ") })
        #expect(second.steps[2].reused == nil)
        #expect(second.steps[3].reused != nil)
    }
}

/// Which recorded steps the store offers for reuse, on a database made here.
@Suite(.tags(.unit)) struct HistoryReuseStoreTests {
    static func report(_ outcomes: [(String, Outcome)], interruption: String? = nil) -> RunReport {
        var report = RunReport(kernel: "/k", accelerator: .tcg, startedAt: "2026-12-02T00:00:00Z")
        report.kernelIdentity = KernelIdentity(path: "/k", release: "6.12", imageDigest: "d1")
        report.records = outcomes.map {
            TestRecord(
                name: $0.0, outcome: $0.1, diagnostics: ["# measure: {}"],
                subtests: [TestRecord(name: $0.0 + "/case", outcome: $0.1)])
        }
        report.interruption = interruption
        return report
    }

    static func store() throws -> (HistoryStore, URL) {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("selftests-reuse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try HistoryStore(path: dir.appendingPathComponent("h.sqlite").path), dir)
    }

    static let step = RunKind.seriesStep(position: 1, commit: "c1", attempt: 0)

    @Test func aWholeStepComesBackWithItsReRunsAndItsCases() throws {
        let (store, dir) = try Self.store()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = Self.report([("a", .fail), ("b", .pass)])
        let id = try store.record(first, kind: Self.step, step: StepRecording(key: "K"))
        let retry = Self.report([("a", .fail)])
        try store.record(
            retry, kind: .seriesStep(position: 1, commit: "c1", attempt: 1),
            step: StepRecording(key: "K", retryOf: id))
        let found = try #require(try store.reusable(key: "K", tests: ["a", "b"]))
        #expect(found.runId == id)
        #expect(found.first == first, "cases, diagnostics and kernel survive the store")
        #expect(found.retries == [retry])
        #expect(found.commit == "c1")
        #expect(try store.reusable(key: "other", tests: ["a", "b"]) == nil)
    }

    @Test(
        arguments: [
            ("interrupted", [("a", Outcome.pass), ("b", .pass)], "SIGINT"),
            ("infra-error", [("a", .infraError), ("b", .pass)], nil),
            ("not-run", [("a", .pass), ("b", .notRun)], nil),
            ("partial", [("a", .pass)], nil),
        ] as [(String, [(String, Outcome)], String?)])
    func aStepWithoutEveryVerdictIsNotReused(
        _ what: String, _ outcomes: [(String, Outcome)], _ interruption: String?
    ) throws {
        let (store, dir) = try Self.store()
        defer { try? FileManager.default.removeItem(at: dir) }
        try store.record(
            Self.report(outcomes, interruption: interruption), kind: Self.step,
            step: StepRecording(key: "K"))
        #expect(try store.reusable(key: "K", tests: ["a", "b"]) == nil, "\(what)")
        // An older whole result under the same key still serves.
        let whole = Self.report([("a", .pass), ("b", .pass)])
        let (store2, dir2) = try Self.store()
        defer { try? FileManager.default.removeItem(at: dir2) }
        let id = try store2.record(whole, kind: Self.step, step: StepRecording(key: "K"))
        try store2.record(
            Self.report(outcomes, interruption: interruption), kind: Self.step,
            step: StepRecording(key: "K"))
        #expect(try store2.reusable(key: "K", tests: ["a", "b"])?.runId == id, "\(what)")
    }

    @Test func aReuseIsARunWithoutVerdictsOfItsOwn() throws {
        let (store, dir) = try Self.store()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try store.record(
            Self.report([("a", .fail)]), kind: Self.step, step: StepRecording(key: "K"))
        let reuse = try store.recordReuse(
            of: id, kind: .seriesStep(position: 1, commit: "c1-v2", attempt: 0), key: "K")
        let rows = try store.allRuns()
        #expect(rows.map(\.reusedFrom) == [nil, id])
        #expect(rows.last?.id == reuse)
        #expect(rows.last?.stepCommit == "c1-v2")
        #expect(rows.last?.imageDigest == "d1")
        #expect(try store.runs(of: HistoryQuery()).map(\.runId) == [id])
        // A reuse is not offered as a first run itself.
        #expect(try store.reusable(key: "K", tests: ["a"])?.runId == id)
    }
}

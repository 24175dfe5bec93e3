import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The comparison rules, on scripted runs.
@Suite(.tags(.unit)) struct StepComparisonTests {
    static func run(_ outcomes: [(String, Outcome)], splats: [Splat] = []) -> RunReport {
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "t")
        report.records = outcomes.map { TestRecord(name: $0.0, outcome: $0.1, message: "why") }
        report.unattributedSplats = splats
        return report
    }

    static func leaves(_ outcomes: [(String, Outcome)]) -> [StepComparison.Leaf] {
        StepComparison.leaves(run(outcomes))
    }

    @Test func aNewFailureThatFailsEveryReRunIsARegression() {
        let verdicts = StepComparison.verdicts(
            first: Self.leaves([("a", .fail), ("b", .pass)]),
            retries: [Self.leaves([("a", .fail)]), Self.leaves([("a", .fail)])],
            reference: ["a": .pass, "b": .pass, StepComparison.unattributed: .pass])
        let a = verdicts.first { $0.test == "a" }
        #expect(a?.change == .regression)
        #expect(a?.retries == [.fail, .fail])
        #expect(a?.evidence == ["why"])
        #expect(verdicts.first { $0.test == "b" }?.change == nil)
    }

    @Test func aNewFailureThatPassesOnAReRunIsFlakyAndCountsAsAPass() {
        let verdicts = StepComparison.verdicts(
            first: Self.leaves([("a", .timeout)]),
            retries: [Self.leaves([("a", .pass)]), Self.leaves([("a", .fail)])],
            reference: ["a": .pass])
        #expect(verdicts[0].change == .flaky)
        #expect(verdicts[0].retries == [.pass], "re-runs stop once it passes")
        #expect(verdicts[0].effective == .pass)
    }

    @Test func aTestFailingBeforeIsNotARegressionAndOnePassingAgainIsFixed() {
        let still = StepComparison.verdicts(
            first: Self.leaves([("a", .fail)]), retries: [], reference: ["a": .fail])
        #expect(still[0].change == nil)
        let fixed = StepComparison.verdicts(
            first: Self.leaves([("a", .pass)]), retries: [], reference: ["a": .kernelCrash])
        #expect(fixed[0].change == .fixed)
    }

    @Test func atTheBaseNothingRegressesButFailuresAreStillReRun() {
        let leaves = Self.leaves([("a", .fail), ("b", .pass)])
        #expect(StepComparison.suspects(leaves, reference: nil) == ["a"])
        let verdicts = StepComparison.verdicts(
            first: leaves, retries: [Self.leaves([("a", .fail)])], reference: nil)
        #expect(verdicts.allSatisfy { $0.change == nil })
        #expect(verdicts[0].retries == [.fail])
    }

    @Test func casesAreComparedOneByOneAndAReRunBootsTheirParent() {
        var report = Self.run([])
        report.records = [
            TestRecord(
                name: "hash/update_flags", outcome: .fail,
                subtests: [
                    TestRecord(name: "hash/update_flags/HASH", outcome: .pass),
                    TestRecord(
                        name: "hash/update_flags/LRU_HASH", outcome: .fail, message: "E2BIG"),
                ])
        ]
        let leaves = StepComparison.leaves(report)
        #expect(
            leaves.map(\.name) == [
                "hash/update_flags/HASH", "hash/update_flags/LRU_HASH", StepComparison.unattributed,
            ])
        let suspects = StepComparison.suspects(
            leaves, reference: ["hash/update_flags/LRU_HASH": .pass])
        #expect(suspects == ["hash/update_flags/LRU_HASH"])
        #expect(
            StepComparison.rerunNames(
                for: suspects, among: ["hash/update_flags", "hash/update_flags_more"])
                == ["hash/update_flags"])
        // A test whose cases did not run at the reference (its program did
        // not compile) is matched through its parent.
        #expect(
            StepComparison.lookup(
                "hash/update_flags/LRU_HASH", in: ["hash/update_flags": .buildError])
                == .buildError)
    }

    /// The tree's test_progs is one name among the tests a series runs;
    /// a failure under it re-runs that test_progs test, not the suite.
    @Test func aTestProgsFailureReRunsItsOwnTestProgsTest() {
        #expect(
            StepComparison.rerunNames(
                for: [
                    "test_progs/task_local_storage/recursion",
                    "test_progs/task_local_storage/nodeadlock", "test_progs/htab_reuse",
                ],
                among: ["storage/sk/omem_charge_delete", TestProgsOutput.suite])
                == ["test_progs/htab_reuse", "test_progs/task_local_storage"])
        #expect(
            StepComparison.rerunNames(
                for: ["storage/sk/omem_charge_delete"],
                among: ["storage/sk/omem_charge_delete", TestProgsOutput.suite])
                == ["storage/sk/omem_charge_delete"])
    }

    @Test func aSplatOutsideAnyTestIsALeafAndReRunsEverything() {
        let splat = Splat(
            kind: .warning, title: "WARNING: at kernel/bpf/core.c", lines: [], test: nil)
        let leaves = StepComparison.leaves(Self.run([("a", .pass)], splats: [splat]))
        let outside = leaves.first { $0.name == StepComparison.unattributed }
        #expect(outside?.outcome == .splat)
        #expect(outside?.evidence.first == "WARNING: at kernel/bpf/core.c")
        #expect(
            StepComparison.rerunNames(for: [StepComparison.unattributed], among: ["a", "b"])
                == ["a", "b"])
    }
}

/// The series driver against a real worktree, a scripted builder and
/// scripted verdicts.
@Suite(.tags(.unit)) struct SeriesRunnerTests {
    /// base, then four patches: docs (same kernel), a break, a build
    /// failure, a fix of the build.
    struct Setup {
        var repo: ScratchRepo
        var plan: SeriesPlan
        var commits: [String]
    }

    static func setup() throws -> Setup {
        let repo = try ScratchRepo.make()
        let base = try repo.git.checked(["rev-parse", "HEAD"])
        var commits = [base]
        let changes = [
            ("Documentation/bpf: explain", "Documentation/bpf/map_hash.rst"),
            ("bpf: break the charge", "net/core/bpf_sk_storage.c"),
            ("bpf: typo", "kernel/bpf/syscall.c"),
            ("bpf: fix the typo", "kernel/bpf/syscall.c"),
        ]
        for (index, (message, file)) in changes.enumerated() {
            commits.append(try repo.commit(message, files: [file: "change \(index)\n"]))
        }
        let plan = try SeriesPlan.range("\(base)..HEAD", tree: repo.git)
        return Setup(repo: repo, plan: plan, commits: commits)
    }

    static func run(_ setup: Setup, tester: ScriptedTester, retries: Int = 2) throws
        -> SeriesReport
    {
        let worktree = try Worktree.open(
            tree: setup.repo.url, at: setup.plan.base.commit, cache: setup.repo.cache)
        defer { worktree.close() }
        let runner = CommitDriver(
            tester: tester, worktree: worktree, retries: retries, observer: SeriesRecorder(),
            directory: try setup.repo.cache.directory("runs", "series"))
        return try runner.series(setup.plan)
    }

    static let tests = ["storage/sk/omem_charge_delete", "storage/sk/user_update_flags"]

    @Test func theFirstBadPatchIsNamedAndTheSeriesGoesOnPastABuildBreak() throws {
        let setup = try Self.setup()
        defer { setup.repo.remove() }
        let c = setup.commits
        let tester = ScriptedTester(tests: Self.tests)
        tester.builds = [
            c[0]: .kernel(digest: "k0"), c[1]: .kernel(digest: "k0"),
            c[2]: .kernel(digest: "k2"), c[3]: .fails("expected ';' before '}' token"),
            c[4]: .kernel(digest: "k4"),
        ]
        tester.outcomes = [
            "k2": ["storage/sk/omem_charge_delete": [.fail]],
            "k4": ["storage/sk/omem_charge_delete": [.fail]],
        ]
        let report = try Self.run(setup, tester: tester)

        #expect(report.steps.map(\.position) == [0, 1, 2, 3, 4])
        #expect(report.regressions.count == 1)
        let regression = try #require(report.regressions.first)
        #expect(regression.test == "storage/sk/omem_charge_delete")
        #expect(
            regression.firstBad
                == SeriesCommit(position: 2, subject: "bpf: break the charge", commit: c[2]))
        #expect(regression.outcome == .fail)
        #expect(regression.evidence == ["storage/sk/omem_charge_delete: expected 0, got 4096"])
        #expect(regression.fixedAt == nil)
        // Patch 4 still fails it, against patch 2 (the last that built): no new regression.
        #expect(report.steps[4].verdicts.first { $0.test == regression.test }?.change == nil)

        #expect(report.buildBreaks.count == 1)
        #expect(report.buildBreaks.first?.patch.position == 3)
        #expect(report.buildBreaks.first?.buildsAgainAt == 4)
        #expect(report.buildBreaks.first?.error.contains("expected ';' before '}' token") == true)
        #expect(report.steps[3].verdicts.isEmpty)
        #expect(report.exitCode == 1)

        // Patch 1 changes only Documentation/: not built, the base's results.
        #expect(report.steps[1].carriedFrom == 0)
        #expect(report.steps[1].build.skipped?.contains("only Documentation/") == true)
        #expect(report.steps[1].kernel == report.steps[0].kernel)
        #expect(tester.runs.filter { $0.hasPrefix("run k0 ") }.count == 1)
        // The regression was re-run twice (its parent test only) before it was called one.
        #expect(
            tester.runs.filter { $0.hasPrefix("run k2 ") } == [
                "run k2 " + Self.tests.joined(separator: ","),
                "run k2 storage/sk/omem_charge_delete", "run k2 storage/sk/omem_charge_delete",
            ])
        #expect(report.steps[2].retryRuns.count == 2)
        #expect(tester.builtCommits == [c[0], c[2], c[3], c[4]])
    }

    @Test func aKernelByteIdenticalToAnEarlierStepsCarriesItsResultsWithoutABoot() throws {
        let setup = try Self.setup()
        defer { setup.repo.remove() }
        let c = setup.commits
        let tester = ScriptedTester(tests: Self.tests)
        // Patch 4 undoes patch 3's change to kernel/bpf/syscall.c: patch 2's kernel again.
        tester.builds = [c[2]: .kernel(digest: "k2"), c[4]: .kernel(digest: "k2")]
        tester.outcomes = ["k2": ["storage/sk/user_update_flags": [.fail]]]
        let report = try Self.run(setup, tester: tester)
        #expect(
            tester.builtCommits == [c[0], c[2], c[3], c[4]], "the image is compared once built")
        #expect(report.steps[4].carriedFrom == 2)
        #expect(report.steps[4].build.skipped == nil)
        #expect(
            tester.runs.filter { $0.hasPrefix("run k2 ") }.count == 3,
            "1 run + 2 re-runs, at 2 only")
        // At 4 it is compared with 3, where it passed: a regression again.
        #expect(report.regressions.map(\.firstBad.position) == [2, 4])
        #expect(report.regressions.first?.fixedAt == 3)
    }

    /// With the tree's own test_progs selected, a patch to the selftests
    /// changes results though the kernel stays the same: it is built and
    /// run, not carried over.
    @Test func aSelftestsPatchIsRunWhenTheTestsComeFromTheTree() throws {
        let test = "tools/testing/selftests/bpf/prog_tests/x.c"
        for inputs in [[], ["tools", "kernel/bpf"]] {
            let repo = try ScratchRepo.make(files: [
                "kernel/bpf/hashtab.c": "int hash;\n", test: "1\n",
            ])
            defer { repo.remove() }
            let base = try repo.git.checked(["rev-parse", "HEAD"])
            let patch = try repo.commit("selftests/bpf: expect more", files: [test: "2\n"])
            let plan = try SeriesPlan.range("\(base)..HEAD", tree: repo.git)
            let tester = ScriptedTester(tests: [
                "storage/sk/omem_charge_delete", TestProgsOutput.suite,
            ])
            tester.testInputs = inputs
            tester.builds = [base: .kernel(digest: "k0"), patch: .kernel(digest: "k0")]
            let worktree = try Worktree.open(tree: repo.url, at: base, cache: repo.cache)
            defer { worktree.close() }
            let report = try CommitDriver(
                tester: tester, worktree: worktree, retries: 0, observer: SeriesRecorder(),
                directory: try repo.cache.directory("runs", "series")
            ).series(plan)
            if inputs.isEmpty {
                #expect(tester.builtCommits == [base], "a selftests-only patch is not built")
                #expect(report.steps[1].build.skipped != nil)
            } else {
                #expect(tester.builtCommits == [base, patch])
                #expect(report.steps[1].carriedFrom == nil, "same kernel, other tests")
                #expect(tester.runs.count == 2)
            }
        }
    }

    @Test func aFailureThatPassesOnAReRunIsFlakyNotARegression() throws {
        let setup = try Self.setup()
        defer { setup.repo.remove() }
        let tester = ScriptedTester(tests: Self.tests)
        tester.builds[setup.commits[3]] = .kernel(digest: "k3")
        tester.outcomes = ["k3": ["storage/sk/user_update_flags": [.timeout, .pass]]]
        let report = try Self.run(setup, tester: tester)
        #expect(report.regressions.isEmpty)
        #expect(
            report.flakes == [
                Flake(test: "storage/sk/user_update_flags", position: 3, outcome: .timeout)
            ])
        #expect(report.exitCode == 0)
        let verdict = report.steps[3].verdicts.first { $0.test == "storage/sk/user_update_flags" }
        #expect(verdict?.retries == [.pass])
    }

    @Test func aTestBrokenAtTheBaseAndFixedByAPatchIsFixed() throws {
        let setup = try Self.setup()
        defer { setup.repo.remove() }
        let c = setup.commits
        let tester = ScriptedTester(tests: Self.tests)
        for commit in c[0...1] { tester.builds[commit] = .kernel(digest: "old") }
        tester.outcomes = ["old": ["storage/sk/user_update_flags": [.kernelCrash]]]
        let report = try Self.run(setup, tester: tester)
        #expect(report.regressions.isEmpty)
        #expect(
            report.fixed == [
                Flake(test: "storage/sk/user_update_flags", position: 2, outcome: .pass)
            ])
        #expect(report.exitCode == 0, "a failure the base already had is not the series' doing")
    }

    @Test func aPatchThatStopsApplyingEndsTheSeriesWithExit2() throws {
        let setup = try Self.setup()
        defer { setup.repo.remove() }
        var plan = setup.plan
        plan.patches = Array(plan.patches.prefix(2))
        plan.notApplied = NotApplied(
            position: 3, subject: "bpf: typo", files: ["kernel/bpf/syscall.c"],
            message: "error: patch failed: kernel/bpf/syscall.c:1")
        let worktree = try Worktree.open(
            tree: setup.repo.url, at: plan.base.commit, cache: setup.repo.cache)
        defer { worktree.close() }
        let tester = ScriptedTester(tests: Self.tests)
        let report = try CommitDriver(
            tester: tester, worktree: worktree, retries: 2, observer: SeriesRecorder(),
            directory: try setup.repo.cache.directory("runs", "stop")
        ).series(plan)
        #expect(report.steps.map(\.position) == [0, 1, 2])
        #expect(report.exitCode == 2)
        #expect(report.notApplied?.files == ["kernel/bpf/syscall.c"])
    }
}

@Suite(.tags(.unit)) struct UnbuiltPathsTests {
    @Test(arguments: [
        ("Documentation/bpf/map_hash.rst", true),
        ("tools/testing/selftests/bpf/prog_tests/sk_storage.c", true),
        ("Documentation/Kconfig", false),
        ("tools/testing/selftests/Kconfig.extra", false),
        ("tools/lib/bpf/libbpf.c", false),
        ("tools/bpf/resolve_btfids/main.c", false),
        ("kernel/bpf/syscall.c", false),
        ("MAINTAINERS", false),
    ])
    func theBuildReadsNeitherDocumentationNorTheSelftests(path: String, unread: Bool) {
        #expect(UnbuiltPaths().contains(path) == unread)
    }

    @Test func theSelftestsConfigIsReadWhenItIsAFragment() {
        let withFragment = UnbuiltPaths(configs: ["selftests"])
        #expect(!withFragment.contains("tools/testing/selftests/bpf/config"))
        #expect(withFragment.contains("tools/testing/selftests/bpf/test_progs.c"))
        #expect(UnbuiltPaths(configs: ["debug"]).contains("tools/testing/selftests/bpf/config"))
        #expect(!UnbuiltPaths().containsAll([]), "an empty change is no reason to skip")
    }
}

/// `run --bisect-exit`: git bisect run's codes from a run's outcome.
@Suite(.tags(.unit)) struct BisectExitTests {
    static func report(_ outcomes: [Outcome]) -> RunReport {
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "t")
        report.records = outcomes.enumerated().map {
            TestRecord(name: "t\($0.offset)", outcome: $0.element)
        }
        return report
    }

    @Test func eachOutcomeMapsToGitBisectRunsCode() {
        #expect(RunOutcome.ran(Self.report([.pass, .skip])).bisectExitCode == 0)
        #expect(RunOutcome.ran(Self.report([.pass, .fail])).bisectExitCode == 1)
        #expect(RunOutcome.ran(Self.report([.kernelCrash])).bisectExitCode == 1)
        #expect(RunOutcome.ran(Self.report([.fail, .infraError])).bisectExitCode == 128)
        let failure = KernelBuildFailure(
            error: BuildError(file: "kernel/bpf/core.c", line: 1, message: "error: x"),
            log: "/log", seconds: 1, tree: "/t", commit: nil)
        #expect(
            RunOutcome.kernelDidNotBuild(failure, Self.report([.buildError])).bisectExitCode == 125)
    }
}

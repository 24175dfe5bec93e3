import Foundation

extension CommitDriver {
    /// Drives a series: for the base and each patch, check out, build
    /// incrementally, run the tests (or carry over the results of an earlier
    /// step whose kernel is byte-identical), re-run what newly fails, and
    /// compare with the step before. A patch that does not build is a step
    /// like any other; the series goes on.
    public func series(_ plan: SeriesPlan) throws -> SeriesReport {
        let started = Date()
        var steps: [SeriesStep] = []
        var kernels: [String: SeriesStep] = [:]
        // What each step is compared with: the last one that built.
        var lastBuilt: SeriesStep?
        for commit in plan.steps {
            let label = "\(commit.position)/\(plan.total)"
            observer.started(commit, label: label)
            var step = try self.step(
                commit, reference: lastBuilt.map { StepComparison.reference($0.verdicts) },
                kernels: kernels, lastBuilt: lastBuilt)
            if let apply = plan.applySeconds[commit.position] { step.seconds["apply"] = apply }
            if step.build.built {
                lastBuilt = step
                if let key = try resultKey(step.kernel?.imageDigest, at: step.commit),
                    kernels[key] == nil
                {
                    kernels[key] = step
                }
            }
            steps.append(step)
            observer.finished(step, label: label, verdict: nil)
        }
        return Self.conclude(
            plan: plan, steps: steps, tree: worktree.tree.path, worktree: worktree.path.path,
            tests: tester.testNames, started: started, directory: directory)
    }

    /// One commit: checkout, build, tests; or, when the patch changed only
    /// what the build does not read, the last built step's kernel and results.
    func step(
        _ commit: SeriesCommit, reference: [String: Outcome]?, kernels: [String: SeriesStep],
        lastBuilt: SeriesStep?
    ) throws -> SeriesStep {
        let clock = PhaseClock()
        let key = try reuseKey(commit.commit)
        if let key, let earlier = reusable(key) {
            var step = try reused(commit, from: earlier, reference: reference)
            history?.recordReuse(
                of: earlier.runId,
                kind: .seriesStep(position: commit.position, commit: commit.commit, attempt: 0),
                key: key)
            step.seconds = clock.phasesWithTotal
            return step
        }
        var step: SeriesStep
        if let lastBuilt, let unread = try unread(from: lastBuilt.commit, to: commit.commit) {
            step = try unbuilt(commit, like: lastBuilt, because: unread)
            let origin =
                try resultKey(lastBuilt.kernel?.imageDigest, at: lastBuilt.commit).flatMap {
                    kernels[$0]
                } ?? lastBuilt
            carry(&step, from: origin, reference: reference)
        } else {
            let built: KernelUnderTest?
            (step, built) = try build(commit, clock: clock)
            if let kernel = built {
                if let key = try resultKey(kernel.identity.imageDigest, at: commit.commit),
                    let earlier = kernels[key]
                {
                    observer.note(
                        "the kernel is byte-identical to step \(earlier.position)'s: its "
                            + "results carry over, no boot")
                    carry(&step, from: earlier, reference: reference)
                } else {
                    let dir = URL(fileURLWithPath: step.directory)
                    let first = try tester.run(kernel: kernel, tests: tester.testNames, in: dir)
                    step.run = first
                    step.retryRuns = try reruns(
                        first, kernel: kernel, reference: reference, in: dir)
                    record([first] + step.retryRuns, of: commit, key: key)
                    step.verdicts = Self.verdicts(
                        first: first, retries: step.retryRuns, reference: reference)
                }
                clock.end("tests")
            }
        }
        step.seconds = clock.phasesWithTotal
        return step
    }

    /// Takes the results of `earlier`, whose kernel is this step's.
    func carry(_ step: inout SeriesStep, from earlier: SeriesStep, reference: [String: Outcome]?) {
        step.carriedFrom = earlier.position
        step.run = earlier.run
        step.retryRuns = earlier.retryRuns
        step.verdicts = Self.verdicts(
            first: earlier.run, retries: earlier.retryRuns, reference: reference)
    }

    /// What makes two steps' results the same: the kernel image, and, when
    /// the tests come from the tree too (its test_progs), the git trees of
    /// the paths they are built from. Nil without a kernel.
    func resultKey(_ imageDigest: String?, at commit: String) throws -> String? {
        guard let imageDigest else { return nil }
        let inputs = tester.testInputs
        if inputs.isEmpty { return imageDigest }
        let trees = try worktree.git.checked(
            ["rev-parse"] + inputs.map { "\(commit):\($0)" }
        ).split(separator: "\n").joined(separator: " ")
        return "\(imageDigest) \(trees)"
    }

    /// Why `commit` need not be built after `previous`: every path it
    /// changed is one the kernel build does not read, and none the tests
    /// are built from. Nil when it must be.
    func unread(from previous: String, to commit: String) throws -> String? {
        let changed = try worktree.git.checked(
            ["diff", "--name-only", "--no-renames", previous, commit]
        ).split(separator: "\n").map(String.init)
        guard tester.unbuiltPaths.containsAll(changed) else { return nil }
        let inputs = tester.testInputs
        if changed.contains(where: { path in
            inputs.contains { path == $0 || path.hasPrefix($0 + "/") }
        }) {
            return nil
        }
        let tops = Set(
            changed.map { $0.hasPrefix("Documentation/") ? "Documentation/" : "tools/testing/" })
        return "it changes only \(tops.sorted().joined(separator: " and ")), which the kernel "
            + "build does not read"
    }

    /// A step that keeps `previous`'s kernel without checking out or building.
    func unbuilt(_ commit: SeriesCommit, like previous: SeriesStep, because reason: String) throws
        -> SeriesStep
    {
        let dir = try stepDirectory(commit)
        return SeriesStep(
            position: commit.position, subject: commit.subject, commit: commit.commit,
            messageId: commit.messageId,
            build: StepBuild(built: true, seconds: 0, steps: 0, skipped: reason),
            kernel: previous.kernel, carriedFrom: nil, reused: nil, verdicts: [], run: nil,
            retryRuns: [], seconds: [:], directory: dir.path)
    }

    /// Runs again, on the same kernel, each test that newly did not pass,
    /// until it passes or the re-runs are spent.
    func reruns(
        _ first: RunReport, kernel: KernelUnderTest, reference: [String: Outcome]?, in dir: URL
    ) throws -> [RunReport] {
        var pending = StepComparison.suspects(StepComparison.leaves(first), reference: reference)
        var runs: [RunReport] = []
        var attempt = 0
        while !pending.isEmpty && attempt < retries {
            attempt += 1
            let names = StepComparison.rerunNames(for: pending, among: tester.testNames)
            observer.retrying(pending, attempt: attempt, of: retries)
            let again = try tester.run(
                kernel: kernel, tests: names, in: dir.appendingPathComponent("retry-\(attempt)"))
            runs.append(again)
            let outcomes = Dictionary(
                StepComparison.leaves(again).map { ($0.name, $0.outcome) },
                uniquingKeysWith: { a, _ in a })
            pending = pending.filter { !(outcomes[$0]?.isSuccess ?? false) }
        }
        return runs
    }

    static func verdicts(first: RunReport?, retries: [RunReport], reference: [String: Outcome]?)
        -> [StepVerdict]
    {
        guard let first else { return [] }
        return StepComparison.verdicts(
            first: StepComparison.leaves(first), retries: retries.map(StepComparison.leaves),
            reference: reference)
    }

    /// The series' conclusions from its steps: regressions with their first
    /// bad patch, flakes, fixes, build breaks.
    public static func conclude(
        plan: SeriesPlan, steps: [SeriesStep], tree: String, worktree: String, tests: [String],
        started: Date, directory: URL
    ) -> SeriesReport {
        var regressions: [Regression] = []
        var flakes: [Flake] = []
        var fixed: [Flake] = []
        for (index, step) in steps.enumerated() {
            for verdict in step.verdicts {
                switch verdict.change {
                case .regression:
                    let later = steps[(index + 1)...].first { later in
                        later.verdicts.contains {
                            $0.test == verdict.test && $0.effective.isSuccess
                        }
                    }
                    regressions.append(
                        Regression(
                            test: verdict.test, firstBad: step.commitRef, outcome: verdict.outcome,
                            evidence: verdict.evidence, fixedAt: later?.position))
                case .flaky:
                    flakes.append(
                        Flake(test: verdict.test, position: step.position, outcome: verdict.outcome)
                    )
                case .fixed:
                    fixed.append(
                        Flake(test: verdict.test, position: step.position, outcome: verdict.outcome)
                    )
                case nil:
                    break
                }
            }
        }
        var breaks: [BuildBreak] = []
        for (index, step) in steps.enumerated() where step.position > 0 && !step.build.built {
            let previous = steps[index - 1]
            if previous.position > 0 && !previous.build.built { continue }
            let again = steps[(index + 1)...].first(where: \.build.built)?.position
            breaks.append(
                BuildBreak(
                    patch: step.commitRef, error: step.build.error ?? "the kernel did not build",
                    log: step.build.log, buildsAgainAt: again))
        }
        return SeriesReport(
            title: plan.title, tree: tree, worktree: worktree, baseNote: plan.baseNote,
            total: plan.total, tests: tests, steps: steps, regressions: regressions,
            flakes: flakes, fixed: fixed, buildBreaks: breaks, notApplied: plan.notApplied,
            startedAt: ISO8601DateFormatter().string(from: started),
            seconds: Date().timeIntervalSince(started), artifactsDirectory: directory.path)
    }
}

import Foundation

extension CommitDriver {
    /// Finds the first commit of `good..bad` that breaks the selected
    /// tests: checks that `good` passes and `bad` fails, then drives `git
    /// bisect`; a commit that does not build is skipped. A refusal (either
    /// end not as claimed, or not building) is a usage error.
    public func bisect(good: String, bad: String) throws -> BisectReport {
        let started = Date()
        let repository = Git(
            worktree.tree, executable: worktree.git.executable, runner: worktree.git.runner)
        let goodCommit = try SeriesPlan.resolve(good, in: repository, option: "--good")
        let badCommit = try SeriesPlan.resolve(bad, in: repository, option: "--bad")
        guard try repository.isAncestor(goodCommit, of: badCommit), goodCommit != badCommit else {
            throw SelftestError(
                .usage, .tree, "--good \(good) is not an ancestor of --bad \(bad)",
                input: "--good \(good)",
                fix:
                    "name an older commit that passes as --good and a newer one that fails as --bad"
            )
        }
        let count = try repository.commits(from: goodCommit, to: badCommit).count
        var steps: [BisectStep] = []

        // --bad: every selected test, failures re-run; what fails every try
        // is what the bisect hunts.
        let badStep = try evaluate(badCommit, label: "bad", signature: nil)
        steps.append(badStep.step)
        guard let signature = badStep.signature else {
            throw SelftestError(
                .usage, .tree, "--bad \(bad) \(badStep.step.reason)",
                input: "--bad \(bad)",
                fix: "pass as --bad a commit where the selected tests fail (see --filter)")
        }
        observer.note("at --bad: \(signature.description)")

        // --good: the signature's tests must pass on every try.
        let goodStep = try evaluate(goodCommit, label: "good", signature: signature).step
        steps.append(goodStep)
        guard goodStep.mark == .good else {
            throw SelftestError(
                .usage, .tree, "--good \(good) is not good: \(goodStep.reason)",
                input: "--good \(good)",
                fix:
                    "pass as --good an older commit where \(signature.tests.joined(separator: ", ")) passes"
            )
        }

        let git = worktree.git
        var said = try git.checked(["bisect", "start", badCommit, goodCommit])
        var culprit: String?
        var candidates: [String] = []
        var number = 0
        // Each mark removes at least one candidate: the loop is bounded.
        while number <= count + 1 {
            if let done = Self.firstBad(said) {
                culprit = done
                break
            }
            if let left = Self.onlySkipped(said) {
                candidates = left
                break
            }
            number += 1
            let head = try worktree.head()
            let step = try evaluate(head, label: "step \(number)", signature: signature).step
            steps.append(step)
            said = try mark(step.mark, git: git)
        }
        let log = (try? git.checked(["bisect", "log"])) ?? ""
        let logFile = directory.appendingPathComponent("bisect.log")
        try? Data((log + "\n").utf8).write(to: logFile)
        _ = try? git.run(["bisect", "reset", "--quiet"])

        let bisectSteps = steps.dropFirst(2)
        let skipped = bisectSteps.filter { $0.mark == .skip }.count
        return BisectReport(
            tree: worktree.tree.path, worktree: worktree.path.path, good: goodCommit,
            bad: badCommit, commits: count, signature: signature, steps: steps,
            culprit: try culprit.map { try self.culprit($0, steps: steps, signature: signature) },
            candidates: candidates, builds: bisectSteps.count,
            bound: BisectReport.bound(commits: count, skipped: skipped), log: log,
            logFile: logFile.path, artifactsDirectory: directory.path,
            seconds: Date().timeIntervalSince(started))
    }

    /// The commit `git bisect` named, with the evidence of the step that
    /// judged it bad.
    func culprit(_ commit: String, steps: [BisectStep], signature: FailureSignature) throws
        -> Culprit
    {
        let judged = steps.last { $0.step.commit == commit && $0.mark == .bad }
        let leaves = judged?.step.run.map(StepComparison.leaves) ?? []
        let evidence = signature.failures.compactMap { failure -> Culprit.Evidence? in
            guard let leaf = leaves.first(where: { $0.name == failure.test }),
                !leaf.outcome.isSuccess
            else { return nil }
            return Culprit.Evidence(test: leaf.name, outcome: leaf.outcome, lines: leaf.evidence)
        }
        return Culprit(
            commit: commit, subject: try worktree.git.subject(of: commit), evidence: evidence)
    }

    /// What a bisect step found, and the signature when it was `--bad`.
    struct Evaluation {
        var step: BisectStep
        var signature: FailureSignature?
    }

    /// Builds `commit` and tries it. With no signature (the `--bad` check):
    /// every selected test, what fails re-run, and the signature is what
    /// failed every try. With one: only its tests, up to 1 + `retries`
    /// tries; bad as soon as a try shows it, good only if every try passes.
    func evaluate(_ commit: String, label: String, signature: FailureSignature?) throws
        -> Evaluation
    {
        let subject = try worktree.git.subject(of: commit)
        let reference = SeriesCommit(position: 0, subject: subject, commit: commit)
        observer.started(reference, label: label)
        let clock = PhaseClock()
        var (step, built) = try build(
            reference, name: label.replacingOccurrences(of: " ", with: "-"), clock: clock)
        var result = BisectStep(
            label: label, mark: .skip, reason: "does not build", step: step, tries: [])
        defer {
            observer.finished(
                result.step, label: label, verdict: "\(result.mark.rawValue): \(result.reason)")
        }
        guard let kernel = built else {
            result.step.seconds = clock.phasesWithTotal
            return Evaluation(step: result)
        }
        let dir = URL(fileURLWithPath: step.directory)
        var runs: [RunReport] = []
        func attempt(_ names: [String]) throws -> [StepComparison.Leaf] {
            if !runs.isEmpty { observer.retrying(names, attempt: runs.count, of: retries) }
            let run = try tester.run(
                kernel: kernel, tests: names,
                in: runs.isEmpty ? dir : dir.appendingPathComponent("retry-\(runs.count)"))
            runs.append(run)
            return StepComparison.leaves(run)
        }
        var found: FailureSignature?
        if let signature {
            let names = StepComparison.rerunNames(for: signature.tests, among: tester.testNames)
            (result.mark, result.reason) = (.good, "")
            for _ in 0...retries {
                let leaves = try attempt(names)
                result.tries.append(
                    signature.tests.map { test in
                        TestOutcome(
                            test: test,
                            outcome: leaves.first { $0.name == test }?.outcome ?? .infraError)
                    })
                if signature.reproduced(in: leaves) {
                    (result.mark, result.reason) = (.bad, "fails as at --bad")
                    break
                }
                if !signature.passes(in: leaves) {
                    (result.mark, result.reason) = (.skip, "fails, but not as at --bad")
                }
            }
            if result.mark == .good { result.reason = "passes on \(runs.count) tries" }
        } else {
            // As a series' base: what fails is re-run; what never passes
            // is the signature, what passed on a re-run was flaky.
            let first = try tester.run(kernel: kernel, tests: tester.testNames, in: dir)
            runs = [first] + (try reruns(first, kernel: kernel, reference: nil, in: dir))
        }
        step.run = runs.first
        step.retryRuns = Array(runs.dropFirst())
        for (attempt, run) in runs.enumerated() {
            history?.record(run, kind: .bisectStep(label: label, commit: commit, attempt: attempt))
        }
        step.verdicts = Self.verdicts(first: runs.first, retries: step.retryRuns, reference: nil)
        if signature == nil {
            let failing = step.verdicts.filter { !$0.outcome.isSuccess && $0.change != .flaky }
            let flaky = step.verdicts.filter { $0.change == .flaky }.map(\.test)
            if !failing.isEmpty {
                found = FailureSignature(
                    failures: failing.map { TestOutcome(test: $0.test, outcome: $0.outcome) })
                (result.mark, result.reason) = (.bad, "fails on every try: \(found!.description)")
            } else if flaky.isEmpty {
                result.reason = "passes every selected test: nothing to bisect"
            } else {
                result.reason =
                    "fails only flakily: \(flaky.joined(separator: ", ")) passed on a re-run"
            }
        }
        clock.end("tests")
        step.seconds = clock.phasesWithTotal
        result.step = step
        return Evaluation(step: result, signature: found)
    }

    /// Tells git bisect; its answer. (git exits non-zero when only skipped
    /// commits are left: that answer is read, not thrown.)
    func mark(_ mark: BisectStep.Mark, git: Git) throws -> String {
        let result = try git.run(["bisect", mark.rawValue])
        let said = result.stdoutText + result.stderrText
        guard result.succeeded || Self.onlySkipped(said) != nil else {
            throw SelftestError(
                .infrastructure, .tree,
                "git bisect \(mark.rawValue) failed (status \(result.status)): \(Git.lastLines(said))"
            )
        }
        return said
    }

    /// `<id> is the first bad commit`, from git bisect's answer.
    static func firstBad(_ said: String) -> String? {
        for line in said.split(separator: "\n") where line.hasSuffix(" is the first bad commit") {
            return String(line.prefix { !$0.isWhitespace })
        }
        return nil
    }

    /// The commits git lists when only skipped ones are left.
    static func onlySkipped(_ said: String) -> [String]? {
        guard said.contains("only 'skip'ped commits left to test") else { return nil }
        return said.split(separator: "\n").map(String.init).filter { line in
            line.count >= 40 && line.prefix(40).allSatisfy(\.isHexDigit)
        }.map { String($0.prefix(40)) }
    }
}

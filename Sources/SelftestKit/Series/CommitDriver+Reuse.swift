import Foundation

extension CommitDriver {
    /// What a step's results depend on, keyed by content rather than by
    /// commit id (a re-applied series gets new ids for the same trees):
    /// the commit's git tree, the re-runs a failure gets, and the tester's
    /// `reuseInputs`. Nil when results are not reused: no history, or a
    /// tester that cannot say what its results depend on.
    func reuseKey(_ commit: String) throws -> String? {
        guard history != nil, let inputs = tester.reuseInputs else { return nil }
        let tree = try worktree.git.checked(["rev-parse", "\(commit)^{tree}"])
        var hasher = SHA256()
        hasher.update("selftests series step v1\ntree \(tree)\nretries \(retries)\n\(inputs)\n")
        return hasher.finalize()
    }

    /// The earlier whole results under `key`, unless `--fresh`.
    func reusable(_ key: String) -> ReusableStep? {
        guard !fresh else { return nil }
        return history?.reusable(key: key, tests: tester.testNames)
    }

    /// A step that takes `earlier`'s kernel and runs without checking out,
    /// building or booting; its verdicts against this series' `reference`.
    func reused(_ commit: SeriesCommit, from earlier: ReusableStep, reference: [String: Outcome]?)
        throws -> SeriesStep
    {
        let dir = try stepDirectory(commit)
        let reuse = StepReuse(
            run: earlier.runId, startedAt: ISO8601DateFormatter().string(from: earlier.startedAt),
            position: earlier.position, commit: earlier.commit)
        observer.note(
            "\(commit.commit.prefix(12)) has the tree and inputs of run \(reuse.run) "
                + "(\(reuse.startedAt)): its results are reused, no build, no boot "
                + "(--fresh runs it again)")
        var step = SeriesStep(
            position: commit.position, subject: commit.subject, commit: commit.commit,
            messageId: commit.messageId, build: StepBuild(built: true, seconds: 0),
            kernel: earlier.first.kernelIdentity, carriedFrom: nil, reused: reuse, verdicts: [],
            run: earlier.first, retryRuns: earlier.retries, seconds: [:], directory: dir.path)
        step.verdicts = Self.verdicts(
            first: earlier.first, retries: earlier.retries, reference: reference)
        return step
    }

    /// Records a step's first run under `key` and its re-runs pointing at it.
    func record(_ runs: [RunReport], of commit: SeriesCommit, key: String?) {
        var first: Int64?
        for (attempt, run) in runs.enumerated() {
            // A re-run whose first run was not recorded is not keyed: it
            // must not pass for a step's first run.
            let step: StepRecording? =
                attempt == 0
                ? key.map { StepRecording(key: $0) }
                : first.flatMap { id in key.map { StepRecording(key: $0, retryOf: id) } }
            let id = history?.record(
                run,
                kind: .seriesStep(
                    position: commit.position, commit: commit.commit, attempt: attempt),
                step: step)
            if attempt == 0 { first = id }
        }
    }
}

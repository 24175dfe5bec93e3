import Foundation

/// The per-patch verdicts in the form `b4 review` shows beside each patch.
///
/// b4 runs its `review-perpatch-check-cmd` once per patch, the message on
/// stdin, and reads a JSON array of `{tool, status, summary, details}` from
/// stdout. `--b4-check FILE` writes every patch's array, keyed by message id
/// and `git patch-id --stable`; `selftests b4-check FILE` is that command.
public struct B4Check: Sendable, Codable, Equatable {
    /// One result object of b4's protocol.
    public struct Result: Sendable, Codable, Equatable {
        public var tool: String
        /// `pass`, `warn` or `fail`.
        public var status: String
        public var summary: String
        public var details: String?
    }

    public struct Patch: Sendable, Codable, Equatable {
        public var position: Int
        public var subject: String
        public var commit: String
        public var messageId: String?
        public var patchId: String?
        public var results: [Result]
    }

    public var series: String
    public var patches: [Patch]

    public static let tool = "selftests"

    /// Each patch's verdict: fail when it does not apply or build, or when
    /// a test first breaks at it; warn when a test was flaky at it; pass
    /// otherwise. `patchIds` maps a commit to its stable patch id.
    public static func make(_ report: SeriesReport, patchIds: [String: String]) -> B4Check {
        var patches: [Patch] = []
        for step in report.steps where step.position > 0 {
            let regressions = report.regressions.filter { $0.firstBad.position == step.position }
            let flaky = step.verdicts.filter { $0.change == .flaky }
            // Kernel complaints outside any test count when there are some.
            let tests = step.verdicts.filter {
                $0.test != StepComparison.unattributed || !$0.effective.isSuccess
            }
            let failing = tests.filter { !$0.effective.isSuccess }
            var result: Result
            if !step.build.built {
                result = Result(
                    tool: tool, status: "fail", summary: "the kernel does not build",
                    details: step.build.error)
            } else if !regressions.isEmpty {
                let names = regressions.map(\.test)
                result = Result(
                    tool: tool, status: "fail",
                    summary: "breaks \(names.count) test(s): " + names.joined(separator: ", "),
                    details: regressions.map { regression in
                        ([regression.test + ": " + regression.outcome.rawValue]
                            + regression.evidence.map { "    " + $0 }).joined(separator: "\n")
                    }.joined(separator: "\n\n"))
            } else if !flaky.isEmpty {
                result = Result(
                    tool: tool, status: "warn",
                    summary: "\(flaky.count) test(s) flaky: "
                        + flaky.map(\.test).joined(separator: ", "),
                    details: flaky.map { "\($0.test): \($0.outcome.rawValue), then pass" }
                        .joined(separator: "\n"))
            } else {
                var summary =
                    "\(tests.count - failing.count) of \(tests.count) pass"
                if !failing.isEmpty { summary += "; \(failing.count) fail as before this patch" }
                if let from = step.carriedFrom { summary += " (same kernel as patch \(from))" }
                if let reuse = step.reused { summary += " (\(reuse.description))" }
                result = Result(tool: tool, status: "pass", summary: summary, details: nil)
            }
            patches.append(
                Patch(
                    position: step.position, subject: step.subject, commit: step.commit,
                    messageId: step.messageId, patchId: patchIds[step.commit], results: [result]))
        }
        if let missing = report.notApplied {
            patches.append(
                Patch(
                    position: missing.position, subject: missing.subject, commit: "",
                    messageId: nil, patchId: nil,
                    results: [
                        Result(
                            tool: tool, status: "fail", summary: "does not apply",
                            details: missing.message)
                    ]))
        }
        return B4Check(series: report.title, patches: patches)
    }

    /// The results for the patch b4 piped in: matched by message id, else
    /// by patch id, else by subject; `[]` when the file does not know it.
    public func results(messageId: String?, patchId: String?, subject: String?) -> [Result] {
        let match =
            patches.first { messageId != nil && $0.messageId == messageId }
            ?? patches.first { patchId != nil && $0.patchId == patchId }
            ?? patches.first { subject != nil && $0.subject == subject }
        return match?.results ?? []
    }

    public func json() throws -> Data {
        try DocumentJSON.data(self, snakeCase: true)
    }

    public static func decode(_ data: Data) throws -> B4Check {
        try DocumentJSON.decode(B4Check.self, from: data, snakeCase: true)
    }

    /// `b4`'s array for one result list, as it reads it from stdout.
    public static func array(_ results: [Result]) throws -> Data {
        try DocumentJSON.data(results)
    }
}

extension Git {
    /// `git patch-id --stable` of a diff or a patch mail; nil when it has none.
    public func patchId(of patch: Data) throws -> String? {
        let result = try run(["patch-id", "--stable"], stdin: patch)
        return result.stdoutText.split(separator: " ").first.map(String.init)
    }

    /// The stable patch id of `commit`'s change.
    public func patchId(commit: String) throws -> String? {
        let diff = try run(["show", "--format=", "--patch", commit])
        guard diff.succeeded else { return nil }
        return try patchId(of: diff.stdout)
    }
}

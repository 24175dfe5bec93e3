import Foundation

/// What a bisect did at one commit, and what it told `git bisect`.
public struct BisectStep: Sendable, Codable, Equatable {
    public enum Mark: String, Sendable, Codable {
        /// Every try passed every test of the signature.
        case good
        /// A try showed the failure seen at `--bad` (same test, same kind).
        case bad
        /// It did not build, or failed differently: `git bisect skip`.
        case skip
    }

    /// `good`, `bad` (the endpoint checks), or `step N`.
    public var label: String
    public var mark: Mark
    public var reason: String
    public var step: SeriesStep
    /// Each try's outcome of each signature test.
    public var tries: [[TestOutcome]]
}

/// One test's outcome. (Lists of these, not dictionaries keyed by test name:
/// the JSON's snake_case key strategy would rewrite such keys.)
public struct TestOutcome: Sendable, Codable, Equatable {
    public var test: String
    public var outcome: Outcome

    public init(test: String, outcome: Outcome) {
        self.test = test
        self.outcome = outcome
    }
}

/// The failure a bisect hunts: each test that failed at `--bad` on every
/// try, with the kind of failure it showed.
public struct FailureSignature: Sendable, Codable, Equatable {
    public var failures: [TestOutcome]

    public var tests: [String] { failures.map(\.test) }

    /// Whether a run shows this failure again: one of its tests fails the
    /// same way.
    public func reproduced(in leaves: [StepComparison.Leaf]) -> Bool {
        leaves.contains { leaf in
            failures.contains { $0.test == leaf.name && $0.outcome == leaf.outcome }
        }
    }

    /// Whether a run passes every test of the signature.
    public func passes(in leaves: [StepComparison.Leaf]) -> Bool {
        failures.allSatisfy { failure in
            leaves.contains { $0.name == failure.test && $0.outcome.isSuccess }
        }
    }

    public var description: String {
        failures.map { "\($0.test) (\($0.outcome.rawValue))" }.joined(separator: ", ")
    }
}

/// The commit a bisect pinned, with the evidence it was judged by.
public struct Culprit: Sendable, Codable, Equatable {
    public var commit: String
    public var subject: String
    /// Each failing test with the lines that explain it.
    public var evidence: [Evidence]

    public struct Evidence: Sendable, Codable, Equatable {
        public var test: String
        public var outcome: Outcome
        public var lines: [String]
    }
}

/// Everything `selftests bisect` found.
public struct BisectReport: Sendable, Codable, Equatable {
    public var tree: String
    public var worktree: String
    public var good: String
    public var bad: String
    /// Commits in `good..bad`: the candidates.
    public var commits: Int
    public var signature: FailureSignature
    public var steps: [BisectStep]
    public var culprit: Culprit?
    /// When skipped commits hide it: every commit it could be.
    public var candidates: [String]
    /// Kernel builds of the bisect steps (the two endpoint checks aside).
    public var builds: Int
    /// ⌈log2 N⌉ + 1 plus skipped commits: what `builds` must stay within.
    public var bound: Int
    public var log: String
    public var logFile: String
    public var artifactsDirectory: String
    public var seconds: Double

    /// 0 the first bad commit was found; 1 skipped commits hide it.
    public var exitCode: Int32 { culprit == nil ? 1 : 0 }

    public static func bound(commits: Int, skipped: Int) -> Int {
        var bits = 0
        while (1 << bits) < commits { bits += 1 }
        return bits + 1 + skipped
    }

    public func json() throws -> Data {
        try DocumentJSON.data(self, snakeCase: true)
    }

    public static func decode(_ data: Data) throws -> BisectReport {
        try DocumentJSON.decode(BisectReport.self, from: data, snakeCase: true)
    }
}

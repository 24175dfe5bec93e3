import Foundation

/// `selftests history`: what the store holds about each test.
public struct TestHistory: Sendable, Codable, Equatable {
    public struct Failure: Sendable, Codable, Equatable {
        public var date: String
        public var kernel: String
        public var release: String?
        public var outcome: String
        public var message: String?
    }

    public var test: String
    public var runs: Int
    public var passed: Int
    /// Passes over verdicts that say something (skips and not-runs left
    /// out); nil when there is none.
    public var passRate: Double?
    public var lastFailure: Failure?
    /// Outcome changes between consecutive runs on the same kernel, summed over kernels.
    public var flips: Int
    /// The median duration of its passing runs (what `--shard` balances by).
    public var medianSeconds: Double?

    /// One summary per test in `runs` (oldest first), by name.
    public static func summarize(_ runs: [TestRun]) -> [TestHistory] {
        Dictionary(grouping: runs, by: \.name).map { name, runs in
            let verdicts = runs.filter { $0.verdict.map(HistoryClassifier.counts) ?? true }
            let passed = verdicts.filter { $0.verdict == .pass }.count
            let failure = verdicts.last { !($0.verdict?.isSuccess ?? false) }
            let flips = Dictionary(grouping: runs, by: \.kernelKey).values.map(
                HistoryClassifier.flips
            ).reduce(0, +)
            return TestHistory(
                test: name, runs: runs.count, passed: passed,
                passRate: verdicts.isEmpty ? nil : Double(passed) / Double(verdicts.count),
                lastFailure: failure.map {
                    Failure(
                        date: ISO8601DateFormatter().string(from: $0.startedAt),
                        kernel: $0.kernelKey, release: $0.kernelRelease, outcome: $0.outcome,
                        message: $0.message.map { String($0.prefix(200)) })
                },
                flips: flips,
                medianSeconds: HistoryClassifier.median(
                    runs.filter { $0.verdict == .pass }.compactMap(\.duration)))
        }.sorted { $0.test < $1.test }
    }

    /// Aligned columns: test, runs, pass rate, flips, last failure.
    public static func text(_ histories: [TestHistory]) -> String {
        guard !histories.isEmpty else { return "No recorded runs match." }
        let rows =
            [["TEST", "RUNS", "PASS", "FLIPS", "LAST FAILURE"]]
            + histories.map { history in
                [
                    history.test, String(history.runs),
                    history.passRate.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                    String(history.flips),
                    history.lastFailure.map {
                        "\($0.date) \($0.outcome) on \(HistoryText.kernel($0.kernel, $0.release))"
                    } ?? "-",
                ]
            }
        return HistoryText.columns(rows)
    }
}

/// `selftests history --json`: the per-test summaries, which `run --durations` reads back.
public struct HistoryExport: Sendable, Codable, Equatable {
    public var tests: [TestHistory]

    public init(tests: [TestHistory]) { self.tests = tests }
}
/// `selftests flakes`: tests whose outcome changed on one kernel image.
public struct FlakyTest: Sendable, Codable, Equatable {
    /// One kernel on which the test flipped.
    public struct OnKernel: Sendable, Codable, Equatable {
        public var kernel: String
        public var release: String?
        public var runs: Int
        public var passed: Int
        public var failed: Int
        public var flips: Int
        /// The date of the latest run that flipped.
        public var lastFlip: String
        /// Verdicts per outcome on this kernel.
        public var outcomes: [String: Int]
    }

    public var test: String
    public var kernels: [OnKernel]
    /// Flips over every kernel: the order the list goes in (most first).
    public var flips: Int

    /// Every test of `runs` (oldest first) that flipped on some kernel.
    public static func detect(_ runs: [TestRun]) -> [FlakyTest] {
        let byTest = Dictionary(grouping: runs, by: \.name)
        return byTest.compactMap { name, runs -> FlakyTest? in
            let kernels = Dictionary(grouping: runs, by: \.kernelKey).compactMap {
                key, runs -> OnKernel? in
                let flips = HistoryClassifier.flips(runs)
                guard flips > 0 else { return nil }
                let counted = runs.filter { $0.verdict.map(HistoryClassifier.counts) ?? true }
                var previous: String?
                var lastFlip = runs[0].startedAt
                for run in counted {
                    if let previous, previous != run.outcome { lastFlip = run.startedAt }
                    previous = run.outcome
                }
                return OnKernel(
                    kernel: key, release: runs.last?.kernelRelease, runs: runs.count,
                    passed: runs.filter { $0.verdict == .pass }.count,
                    failed: counted.filter { !($0.verdict?.isSuccess ?? false) }.count,
                    flips: flips, lastFlip: ISO8601DateFormatter().string(from: lastFlip),
                    outcomes: Dictionary(grouping: runs, by: \.outcome).mapValues(\.count))
            }.sorted { ($0.flips, $1.kernel) > ($1.flips, $0.kernel) }
            guard !kernels.isEmpty else { return nil }
            return FlakyTest(test: name, kernels: kernels, flips: kernels.map(\.flips).reduce(0, +))
        }.sorted { ($0.flips, $1.test) > ($1.flips, $0.test) }
    }

    /// A line per test and kernel: test, kernel, runs, failed, flips, last flip.
    public static func text(_ flakes: [FlakyTest]) -> String {
        guard !flakes.isEmpty else { return "No test changed its outcome on the same kernel." }
        var rows = [["TEST", "KERNEL", "RUNS", "FAILED", "FLIPS", "LAST FLIP"]]
        for flake in flakes {
            for kernel in flake.kernels {
                rows.append([
                    flake.test, HistoryText.kernel(kernel.kernel, kernel.release),
                    String(kernel.runs), String(kernel.failed), String(kernel.flips),
                    kernel.lastFlip,
                ])
            }
        }
        return HistoryText.columns(rows)
    }
}

/// The text forms' shared pieces.
enum HistoryText {
    /// A kernel as a person reads it: the release and the digest's first 12.
    static func kernel(_ key: String, _ release: String?) -> String {
        let short = key.hasPrefix("path:") ? key : String(key.prefix(12))
        return release.map { "\($0) \(short)" } ?? short
    }

    /// Rows padded into left-aligned columns, two spaces apart.
    static func columns(_ rows: [[String]]) -> String {
        let widths = rows.reduce(into: [Int]()) { widths, row in
            for (index, cell) in row.enumerated() {
                if index >= widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1
                    ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

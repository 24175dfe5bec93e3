import Foundation

/// The recorded durations a `--shard K/N` run balances by, and where they
/// came from.
///
/// N runners must split the selection the same way, or the shards overlap
/// and leave holes. Each runner's own history differs, so the split is a
/// function of (selection, durations) alone, the durations are given to
/// every runner alike (`--durations FILE`), and each report carries the
/// digest of what it used: `selftests merge` refuses shards whose digests
/// differ.
public struct ShardDurations: Sendable, Equatable {
    /// Whole milliseconds per test: rounding makes the split and the digest
    /// independent of how a float prints.
    public var milliseconds: [String: Int]
    /// What they came from, for the run's note: `--durations FILE`, the history.
    public var source: String

    public init(seconds: [String: Double], source: String) {
        self.milliseconds = seconds.compactMapValues { value in
            value.isFinite && value >= 0 ? max(1, Int((value * 1000).rounded())) : nil
        }
        self.source = source
    }

    /// The weight of each of `selection`: its duration, or, without one,
    /// the median of those it has. Nil when none has one: balance by count.
    func weights(for selection: [String]) -> [Int]? {
        let known = selection.compactMap { milliseconds[$0] }
        guard let fallback = HistoryClassifier.median(known.map(Double.init)) else { return nil }
        return selection.map { milliseconds[$0] ?? Int(fallback.rounded()) }
    }

    /// SHA-256 of the weights used for `selection` (name, tab, milliseconds,
    /// a line each, in order): equal digests, equal splits.
    public func digest(for selection: [String]) -> String? {
        guard let weights = weights(for: selection) else { return nil }
        var hasher = SHA256()
        for (name, weight) in zip(selection, weights) {
            hasher.update("\(name)\t\(weight)\n")
        }
        return hasher.finalize()
    }

    /// Reads `--durations FILE`: a `--json` report (merged or not: each
    /// passing test's duration) or a `selftests history --json` export
    /// (each test's median).
    public static func load(_ path: String) throws -> ShardDurations {
        let source = "--durations \(path)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SelftestError(
                .usage, .options, "cannot read \(path)", input: source,
                fix: "pass the merged --json report of an earlier run, or `selftests history "
                    + "--json` saved to a file")
        }
        if let report = try? JSONReport.report(from: data) {
            let passed = report.records.filter { $0.outcome == .pass }
            return ShardDurations(
                seconds: Dictionary(
                    passed.compactMap { record in record.duration.map { (record.name, $0) } },
                    uniquingKeysWith: { a, _ in a }),
                source: source)
        }
        if let export = try? DocumentJSON.decode(HistoryExport.self, from: data) {
            return ShardDurations(
                seconds: Dictionary(
                    export.tests.compactMap { test in test.medianSeconds.map { (test.test, $0) } },
                    uniquingKeysWith: { a, _ in a }),
                source: source)
        }
        throw SelftestError(
            .usage, .options,
            "\(path) is neither a selftests --json report nor a `selftests history --json` export",
            input: source,
            fix: "pass the merged --json report of an earlier run (selftests merge … --json F)")
    }
}

extension Shard {
    /// This shard's items, balanced by `durations` when they know any of
    /// the selection, else by count (`select(_:)`). Longest first, each to
    /// the shard with the least so far (the lowest number on a tie); each
    /// share keeps the selection's order. A pure function of the names and
    /// the durations: every runner given the same two gets the same split.
    public func select<T>(_ items: [T], name: (T) -> String, durations: ShardDurations?) -> [T] {
        let names = items.map(name)
        guard let durations, let weights = durations.weights(for: names) else {
            return select(items)
        }
        let order = weights.indices.sorted { (weights[$0], $1) > (weights[$1], $0) }
        var totals = Array(repeating: 0, count: count)
        var owner = Array(repeating: 0, count: items.count)
        for item in order {
            let least = totals.indices.min { (totals[$0], $0) < (totals[$1], $1) } ?? 0
            owner[item] = least
            totals[least] += weights[item]
        }
        return items.indices.filter { owner[$0] == index - 1 }.map { items[$0] }
    }
}

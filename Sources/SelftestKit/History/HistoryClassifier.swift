import Foundation

/// What the history says about one test of a run, on that run's kernel.
public enum HistoryNote: Sendable, Codable, Equatable, CustomStringConvertible {
    /// It fails now and passed the last time it ran on this kernel.
    case new(lastPassed: Date)
    /// It fails now and failed the last time too: `failed` of the last
    /// `of` verdicts on this kernel were failures.
    case known(failed: Int, of: Int)
    /// It passes now, but `failed` of the last `of` verdicts on this kernel
    /// were failures.
    case flaky(failed: Int, of: Int)

    public var description: String {
        switch self {
        case .new: "new: passed the last time on this kernel"
        case .known(let failed, let of): "known: failed \(failed) of the last \(of) on this kernel"
        case .flaky(let failed, let of): "flaky: \(failed) of last \(of) failed on this kernel"
        }
    }

    // One flat JSON object per note: {"kind": "known", "failed": 2, "of": 3}.
    private enum CodingKeys: String, CodingKey { case kind, lastPassed, failed, of }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .new(let lastPassed):
            try container.encode("new", forKey: .kind)
            try container.encode(
                ISO8601DateFormatter().string(from: lastPassed), forKey: .lastPassed)
        case .known(let failed, let of), .flaky(let failed, let of):
            try container.encode(self.kind, forKey: .kind)
            try container.encode(failed, forKey: .failed)
            try container.encode(of, forKey: .of)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "new":
            let text = try container.decode(String.self, forKey: .lastPassed)
            self = .new(lastPassed: ISO8601DateFormatter().date(from: text) ?? .distantPast)
        case "known", "flaky":
            let failed = try container.decode(Int.self, forKey: .failed)
            let of = try container.decode(Int.self, forKey: .of)
            self = kind == "known" ? .known(failed: failed, of: of) : .flaky(failed: failed, of: of)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container, debugDescription: "unknown history note \(kind)")
        }
    }

    private var kind: String {
        switch self {
        case .new: "new"
        case .known: "known"
        case .flaky: "flaky"
        }
    }
}

/// Pure functions over history rows: no database, so they are tested with
/// scripted histories, and the queries stay in `HistoryStore`.
public enum HistoryClassifier {
    /// How many of the latest verdicts on a kernel "known" and "flaky" count.
    public static let window = 10

    /// Whether a verdict says something about the test: `skip` (the kernel
    /// lacks a feature) and `not-run` (the run's bound was spent) do not,
    /// so they neither make a flip nor count in a window.
    static func counts(_ outcome: Outcome) -> Bool {
        outcome != .skip && outcome != .notRun
    }

    /// The note for a test that ended as `outcome`, given its earlier
    /// verdicts on the same kernel, oldest first; nil when there is
    /// nothing to say (no history there, a skip, a pass that never failed).
    public static func classify(_ outcome: Outcome, earlier: [TestRun]) -> HistoryNote? {
        guard counts(outcome) else { return nil }
        let recent = Array(
            earlier.filter { $0.verdict.map(counts) ?? false }.suffix(window))
        guard let last = recent.last, let lastOutcome = last.verdict else { return nil }
        let failed = recent.filter { !($0.verdict?.isSuccess ?? false) }.count
        if outcome.isSuccess {
            return failed > 0 ? .flaky(failed: failed, of: recent.count) : nil
        }
        return lastOutcome.isSuccess
            ? .new(lastPassed: last.startedAt) : .known(failed: failed, of: recent.count)
    }

    /// A note per top-level record of `report` that has one (none for a
    /// test the run's bound cut short). `earlier`: verdicts recorded on the
    /// report's kernel before it, oldest first.
    public static func notes(for report: RunReport, earlier: [TestRun]) -> [String: HistoryNote] {
        let byTest = Dictionary(grouping: earlier, by: \.name)
        var notes: [String: HistoryNote] = [:]
        for record in report.records where record.cutByRunBound != true {
            if let note = classify(record.outcome, earlier: byTest[record.name] ?? []) {
                notes[record.name] = note
            }
        }
        return notes
    }

    /// Outcome changes between consecutive verdicts (oldest first) of one
    /// test on one kernel; skips and not-runs are passed over.
    public static func flips(_ runs: [TestRun]) -> Int {
        let outcomes = runs.compactMap(\.verdict).filter(counts)
        return zip(outcomes, outcomes.dropFirst()).filter { $0 != $1 }.count
    }

    /// The middle value (the mean of the two middle ones); nil for none.
    public static func median(_ values: [Double]) -> Double? {
        let sorted = values.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

import Foundation

/// The machine-readable report: a `RunReport` as JSON, plus a `summary` object.
///
/// The document is the report's own keys (sorted, pretty-printed) with one
/// extra key, `summary`, which decoding a `RunReport` ignores; so
/// `JSONReport.report(from: JSONReport.data(for: r)) == r`.
public enum JSONReport {
    /// Counts a reader can use without walking the records.
    public struct Summary: Sendable, Codable, Equatable {
        /// Top-level records per outcome, every outcome present (zero if none).
        public var counts: [String: Int]
        /// Number of top-level records.
        public var total: Int
        /// Splats outside any test; each makes the run fail.
        public var unattributedSplats: Int
        /// What `selftests` exits with for this report.
        public var exitCode: Int32

        public init(report: RunReport) {
            let counts = report.counts
            self.counts = Dictionary(
                uniqueKeysWithValues: Outcome.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
            self.total = report.records.count
            self.unattributedSplats = report.unattributedSplats.count
            self.exitCode = report.exitCode
        }
    }

    /// The JSON document for `report`, UTF-8, ending in a newline.
    public static func data(for report: RunReport) throws -> Data {
        try DocumentJSON.data(Document(report: report))
    }

    /// The report a document from `data(for:)` holds.
    public static func report(from data: Data) throws -> RunReport {
        try DocumentJSON.decode(RunReport.self, from: data)
    }

    /// The summary a document from `data(for:)` holds.
    public static func summary(from data: Data) throws -> Summary {
        try DocumentJSON.decode(Document.SummaryOnly.self, from: data).summary
    }

    /// The report's keys at top level, with `summary` beside them.
    struct Document: Encodable {
        var report: RunReport

        enum CodingKeys: String, CodingKey {
            case summary
        }

        struct SummaryOnly: Decodable {
            var summary: Summary
        }

        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(Summary(report: report), forKey: .summary)
        }
    }
}

import Foundation
import SelftestCatalog

/// One map's cost as `selftests memory` reports it: the guest's record
/// (`MapMeasurement`, read from its `measure: {json}` line) with the test
/// that measured it and the case's verdict, which the host adds. Its JSON
/// is the record's fields beside `test` and `outcome`.
@dynamicMemberLookup
public struct MemoryMeasurement: Sendable, Codable, Equatable {
    /// The test that measured it (`memory/hash/cost`), and the case's verdict.
    public var test: String?
    public var outcome: Outcome?
    /// What the guest sent.
    public var record: MapMeasurement

    public init(_ record: MapMeasurement, test: String? = nil, outcome: Outcome? = nil) {
        self.record = record
        self.test = test
        self.outcome = outcome
    }

    public subscript<Value>(dynamicMember field: KeyPath<MapMeasurement, Value>) -> Value {
        record[keyPath: field]
    }

    enum CodingKeys: String, CodingKey { case test, outcome }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        test = try container.decodeIfPresent(String.self, forKey: .test)
        outcome = try container.decodeIfPresent(Outcome.self, forKey: .outcome)
        record = try MapMeasurement(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(test, forKey: .test)
        try container.encodeIfPresent(outcome, forKey: .outcome)
        try record.encode(to: encoder)
    }

    /// `reported / measured`; nil when nothing was measured.
    public var ratio: Double? {
        record.measured > 0 ? Double(record.reported) / Double(record.measured) : nil
    }

    /// Whether this is a local-storage map, whose size is a number of owners.
    public var isLocalStorage: Bool { record.type.hasSuffix("_STORAGE") }

    /// `prealloc`, `no_prealloc`, or for local storage what was freed first.
    public var mode: String {
        if isLocalStorage { return record.freed == "owners" ? "free owners" : "free map" }
        return record.prealloc ? "prealloc" : "no_prealloc"
    }
}

extension MemoryMeasurement {
    /// The measurement on one diagnostic line; nil for any other line or for
    /// JSON that does not decode (a guest from another version).
    public static func parse(line: String) -> MemoryMeasurement? {
        guard line.hasPrefix(MapMeasurement.linePrefix) else { return nil }
        let json = line.dropFirst(MapMeasurement.linePrefix.count)
        return (try? DocumentJSON.decode(MapMeasurement.self, from: Data(json.utf8)))
            .map { MemoryMeasurement($0) }
    }

    /// Every measurement in a run, in the order the tests ran, each with the
    /// test it came from and its case's verdict.
    public static func all(in report: RunReport) -> [MemoryMeasurement] {
        report.records.flatMap { record in
            record.diagnostics.compactMap(parse(line:)).map { measurement in
                var m = measurement
                m.test = record.name
                let caseName = "\(record.name)/\(m.label)"
                m.outcome =
                    record.subtests.first { $0.name == caseName }?.outcome ?? record.outcome
                return m
            }
        }
    }
}

import Foundation
import SelftestCatalog

/// What changed in what maps cost between two memory tables: per map type
/// and size, measured (cgroup charge) and reported (memlock) bytes before
/// and after. Pure: `memory --compare` and a series' per-patch tables.
public enum MemoryComparison {
    /// One map of either table; nil on the side that did not measure it.
    public struct Row: Sendable, Equatable {
        public var map: String
        public var before: MemoryMeasurement?
        public var after: MemoryMeasurement?

        public var measuredDelta: Int? { delta(\.measured) }
        public var reportedDelta: Int? { delta(\.reported) }

        /// Whether the map's cost moved by more than `noise` says its
        /// measured bytes vary between runs of one kernel: a measured delta
        /// beyond it, any reported delta, or a map on one side only.
        public func moved(noise: [String: Int]) -> Bool {
            guard let measured = measuredDelta, let reported = reportedDelta else { return true }
            return abs(measured) > noise[map, default: 0] || reported != 0
        }

        func delta(_ field: KeyPath<MapMeasurement, Int>) -> Int? {
            guard let before, let after else { return nil }
            return after.record[keyPath: field] - before.record[keyPath: field]
        }
    }

    /// What makes two measurements the same map: type, mode, key and value
    /// sizes, entries (`HASH prealloc 4/4 × 1,024`).
    public static func key(_ m: MemoryMeasurement) -> String { MemoryChart.label(m) }

    /// The rows of `after` in its order, each with its match in `before`,
    /// then the maps only `before` measured.
    public static func compare(_ before: [MemoryMeasurement], _ after: [MemoryMeasurement])
        -> [Row]
    {
        var earlier: [String: MemoryMeasurement] = [:]
        for m in before where earlier[key(m)] == nil { earlier[key(m)] = m }
        var seen: Set<String> = []
        var rows: [Row] = []
        for m in after where seen.insert(key(m)).inserted {
            rows.append(Row(map: key(m), before: earlier[key(m)], after: m))
        }
        for m in before where seen.insert(key(m)).inserted {
            rows.append(Row(map: key(m), before: m, after: nil))
        }
        return rows
    }

    static let titles = [
        "map", "measured before", "measured now", "Δ measured", "reported before",
        "reported now", "Δ reported",
    ]

    /// The rows as an aligned table (a caller that wants only what moved
    /// filters with `Row.moved(noise:)` first).
    public static func text(_ rows: [Row]) -> String {
        func bytes(_ m: MemoryMeasurement?, _ field: KeyPath<MapMeasurement, Int>) -> String {
            m.map { MemoryTable.grouped($0.record[keyPath: field]) } ?? "-"
        }
        let cells = rows.map { row -> [String] in
            [
                row.map, bytes(row.before, \.measured), bytes(row.after, \.measured),
                signed(row.measuredDelta, base: row.before?.measured),
                bytes(row.before, \.reported), bytes(row.after, \.reported),
                signed(row.reportedDelta, base: row.before?.reported),
            ]
        }
        return MemoryTable.aligned(titles: titles, rows: cells, numeric: Set(1...6))
    }

    /// The rows that changed but by no more than `noise`, named with their
    /// delta and the noise: `HASH prealloc 4/4 × 1,024 +12,288 (noise ±12,288)`.
    public static func withinNoise(_ rows: [Row], noise: [String: Int]) -> [String] {
        rows.filter { !$0.moved(noise: noise) && $0.measuredDelta != 0 }.map { row in
            "\(row.map) \(signed(row.measuredDelta, base: nil)) "
                + "(noise ±\(MemoryTable.grouped(noise[row.map, default: 0])))"
        }
    }

    /// `+4,096 (+4.8%)`, `0`, `new`/`gone` for a map on one side only.
    static func signed(_ delta: Int?, base: Int?) -> String {
        guard let delta else { return base == nil ? "new" : "gone" }
        if delta == 0 { return "0" }
        let sign = delta > 0 ? "+" : ""
        guard let base, base != 0 else { return sign + MemoryTable.grouped(delta) }
        let percent = Double(delta) / Double(base) * 100
        let shown = (percent < 0 ? "-" : "+") + MemoryTable.fixed(abs(percent), digits: 1)
        return sign + MemoryTable.grouped(delta) + " (\(shown)%)"
    }
}

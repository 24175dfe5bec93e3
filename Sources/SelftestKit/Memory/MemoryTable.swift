import Foundation
import SelftestCatalog

/// `selftests memory`'s table: one row per measured map, as aligned text for
/// the terminal and as CSV.
public enum MemoryTable {
    /// Column titles, in order, for the text table.
    static let titles = [
        "map type", "mode", "key/value", "size", "measured", "reported", "naive",
        "rep/meas", "meminfo", "lingering", "verdict",
    ]

    /// Right-aligned columns (the numbers).
    static let numeric: Set<Int> = [3, 4, 5, 6, 7, 8, 9]

    /// The table as text: a header, a rule, one line per measurement. Bytes
    /// with thousands separators; `size` is entries, owners, or a ring's bytes.
    public static func text(_ measurements: [MemoryMeasurement]) -> String {
        aligned(titles: titles, rows: measurements.map(cells), numeric: numeric)
    }

    /// `rows` under `titles` and a rule, each column as wide as its widest
    /// cell, the `numeric` ones right-aligned.
    static func aligned(titles: [String], rows: [[String]], numeric: Set<Int>) -> String {
        var widths = titles.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return numeric.contains(index) ? pad + cell : cell + pad
            }
            return String(padded.joined(separator: "  ").trimming(" ", leading: false))
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        var out = [line(titles), rule]
        out += rows.map(line)
        return out.joined(separator: "\n") + "\n"
    }

    static func cells(_ m: MemoryMeasurement) -> [String] {
        [
            m.type, m.mode, m.type == "RINGBUF" ? "-" : "\(m.keySize)/\(m.valueSize)",
            grouped(m.entries), grouped(m.measured), grouped(m.reported), grouped(m.naive),
            m.ratio.map { ratio($0, digits: 3) } ?? "-", grouped(m.meminfoKernel),
            grouped(m.residue + (m.ownerResidue ?? 0)), m.outcome?.rawValue ?? "-",
        ]
    }

    /// CSV header and rows: raw numbers, one column per field.
    public static func csv(_ measurements: [MemoryMeasurement]) -> String {
        let header = [
            "test", "case", "type", "mode", "key_size", "value_size", "entries", "elements",
            "cpus", "created", "measured", "reported", "naive", "ratio", "kernel", "slab",
            "percpu", "vmalloc", "meminfo_kernel", "meminfo_percpu", "residue", "owner_residue",
            "free_ms", "fill_ms", "outcome",
        ]
        var out = header.joined(separator: ",") + "\n"
        for m in measurements {
            let fields: [String] = [
                m.test ?? "", m.label, m.type, m.mode, "\(m.keySize)", "\(m.valueSize)",
                "\(m.entries)", "\(m.elements)", "\(m.cpus)", "\(m.created)", "\(m.measured)",
                "\(m.reported)", "\(m.naive)", m.ratio.map { fixed($0, digits: 4) } ?? "",
                "\(m.kernel)", "\(m.slab)", "\(m.percpu)", "\(m.vmalloc)", "\(m.meminfoKernel)",
                "\(m.meminfoPercpu)", "\(m.residue)", m.ownerResidue.map { "\($0)" } ?? "",
                "\(m.freeMs)", "\(m.fillMs)", m.outcome?.rawValue ?? "",
            ]
            out += fields.map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180: quote a field that holds a comma, quote or newline.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `83893296` → `83,893,296`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// A ratio with `digits` decimals, or more when it is that close to 0:
    /// local storage's memlock is a few ten-thousandths of its cost.
    static func ratio(_ value: Double, digits: Int) -> String {
        var shown = digits
        while shown < 6 && value > 0 && value < pow(10, Double(1 - shown)) { shown += 1 }
        return fixed(value, digits: shown)
    }

    /// A fixed-point number without Foundation's formatters: `1.2` → `1.200`.
    static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * Double(scale)).rounded())
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: digits - fraction.count)
            + fraction
    }
}

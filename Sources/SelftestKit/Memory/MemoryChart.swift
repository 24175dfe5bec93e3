import Foundation

/// `selftests memory`'s chart: for each map, measured (cgroup charge) and
/// reported (memlock) as bars on a log scale, with the naive estimate as a
/// tick, written as SVG through `XMLWriter`.
public enum MemoryChart {
    typealias Element = XMLWriter.Element

    static let width = 1000.0
    static let labelRight = 330.0
    static let plotLeft = 340.0
    static let plotRight = 880.0
    static let top = 96.0
    static let rowHeight = 30.0
    static let measuredColor = "#3366cc"
    static let reportedColor = "#ee8822"

    /// The SVG document; `subtitle` names the kernel and machine.
    public static func svg(_ measurements: [MemoryMeasurement], subtitle: String) -> String {
        let scale = LogScale(measurements.flatMap { [$0.measured, $0.reported, $0.naive] })
        let height = top + rowHeight * Double(max(measurements.count, 1)) + 40
        var children: [Element] = [
            rect(0, 0, width, height, fill: "white"),
            text(
                width / 2, 26, "BPF map memory: measured (cgroup charge) vs reported (memlock)",
                anchor: "middle", size: 18, weight: "bold"),
            text(
                width / 2, 46, subtitle + " · log scale", anchor: "middle", size: 12,
                fill: "#555555"),
        ]
        // Stripes under the gridlines, bars over them.
        for index in measurements.indices where index % 2 == 0 {
            let y = top + rowHeight * Double(index)
            children.append(rect(8, y, width - 16, rowHeight, fill: "#f3f3f3"))
        }
        children += legend()
        children += axis(scale, bottom: height - 40)
        for (index, m) in measurements.enumerated() {
            children += row(m, y: top + rowHeight * Double(index), scale: scale)
        }
        let root = Element(
            "svg",
            attributes: [
                ("xmlns", "http://www.w3.org/2000/svg"), ("width", num(width)),
                ("height", num(height)), ("viewBox", "0 0 \(num(width)) \(num(height))"),
                ("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"),
            ], children: children)
        return XMLWriter.document(root)
    }

    static func legend() -> [Element] {
        [
            rect(plotLeft, 60, 14, 10, fill: measuredColor),
            text(plotLeft + 20, 69, "measured: memory.current growth", size: 12),
            rect(plotLeft + 250, 60, 14, 10, fill: reportedColor),
            text(plotLeft + 270, 69, "reported: memlock", size: 12),
            line(plotLeft + 412, 57, plotLeft + 412, 73, stroke: "black", width: 2),
            text(plotLeft + 420, 69, "naive estimate", size: 12),
            text(plotRight + 10, 69, "rep/meas", size: 12, weight: "bold"),
        ]
    }

    /// A gridline and a label per power of ten, top to bottom of the rows.
    static func axis(_ scale: LogScale, bottom: Double) -> [Element] {
        var out: [Element] = []
        for exponent in scale.low...scale.high {
            let x = scale.x(pow(10, Double(exponent)), from: plotLeft, to: plotRight)
            out.append(line(x, top - 6, x, bottom, stroke: "#cccccc", width: 1))
            out.append(
                text(
                    x, bottom + 16, LogScale.label(exponent), anchor: "middle", size: 11,
                    fill: "#555555"))
        }
        return out
    }

    static func row(_ m: MemoryMeasurement, y: Double, scale: LogScale) -> [Element] {
        var out: [Element] = []
        let failed = m.outcome.map { !$0.isSuccess } ?? false
        out.append(text(labelRight, y + 19, label(m), anchor: "end", size: 12))
        let measuredX = scale.x(Double(max(m.measured, 1)), from: plotLeft, to: plotRight)
        let reportedX = scale.x(Double(max(m.reported, 1)), from: plotLeft, to: plotRight)
        out.append(rect(plotLeft, y + 4, measuredX - plotLeft, 10, fill: measuredColor))
        out.append(rect(plotLeft, y + 16, reportedX - plotLeft, 10, fill: reportedColor))
        if m.naive > 0 {
            let naiveX = scale.x(Double(m.naive), from: plotLeft, to: plotRight)
            out.append(line(naiveX, y + 2, naiveX, y + 28, stroke: "black", width: 2))
        }
        let ratio = m.ratio.map { "×" + MemoryTable.ratio($0, digits: 2) } ?? "-"
        out.append(
            text(
                plotRight + 10, y + 19, failed ? ratio + " FAIL" : ratio, size: 12,
                fill: failed ? "#cc0000" : "black", weight: failed ? "bold" : "normal"))
        return out
    }

    /// `HASH prealloc 4/4 × 1,048,576`, `SK_STORAGE free map × 256 owners`.
    static func label(_ m: MemoryMeasurement) -> String {
        if m.type == "RINGBUF" { return "RINGBUF \(MemoryTable.grouped(m.entries)) B" }
        let size = MemoryTable.grouped(m.entries)
        if m.isLocalStorage { return "\(m.type) \(m.mode) × \(size) owners" }
        return "\(m.type) \(m.mode) \(m.keySize)/\(m.valueSize) × \(size)"
    }

    static func num(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : MemoryTable.fixed(value, digits: 1)
    }

    static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String) -> Element {
        Element(
            "rect",
            attributes: [
                ("x", num(x)), ("y", num(y)), ("width", num(max(w, 0))), ("height", num(h)),
                ("fill", fill),
            ])
    }

    static func line(
        _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double
    ) -> Element {
        Element(
            "line",
            attributes: [
                ("x1", num(x1)), ("y1", num(y1)), ("x2", num(x2)), ("y2", num(y2)),
                ("stroke", stroke), ("stroke-width", num(width)),
            ])
    }

    static func text(
        _ x: Double, _ y: Double, _ content: String, anchor: String = "start", size: Int,
        fill: String = "black", weight: String = "normal"
    ) -> Element {
        Element(
            "text",
            attributes: [
                ("x", num(x)), ("y", num(y)), ("text-anchor", anchor), ("font-size", "\(size)"),
                ("fill", fill), ("font-weight", weight),
            ], text: content)
    }
}

/// Maps bytes onto a log10 axis spanning whole powers of ten.
struct LogScale {
    var low: Int
    var high: Int

    init(_ values: [Int]) {
        let positive = values.filter { $0 > 0 }.map(Double.init)
        let smallest = positive.min() ?? 1
        let largest = positive.max() ?? 10
        low = Int(log10(smallest).rounded(.down))
        high = max(Int(log10(largest).rounded(.up)), low + 1)
    }

    func x(_ value: Double, from left: Double, to right: Double) -> Double {
        let position = (log10(max(value, 1)) - Double(low)) / Double(high - low)
        return left + (right - left) * min(max(position, 0), 1)
    }

    /// `1 B`, `10 B`, `100 B`, `1 kB`, … `100 MB`, `1 GB`.
    static func label(_ exponent: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        let unit = units[min(max(exponent, 0) / 3, units.count - 1)]
        var mantissa = 1
        for _ in 0..<(max(exponent, 0) % 3) { mantissa *= 10 }
        return "\(mantissa) \(unit)"
    }
}

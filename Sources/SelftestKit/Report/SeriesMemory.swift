import Foundation

/// What each patch of a series did to what maps cost, when the memory
/// tests are in its selection: the first step's table, then per step the
/// maps whose measured or reported bytes moved since the step before that
/// measured, by more than the run-to-run noise the history has seen.
public enum SeriesMemory {
    /// Each step that measured maps (built and tested, carried or reused)
    /// with its measurements.
    public static func tables(_ report: SeriesReport) -> [(SeriesStep, [MemoryMeasurement])] {
        report.steps.compactMap { step in
            guard let run = step.run else { return nil }
            let measurements = MemoryMeasurement.all(in: run)
            return measurements.isEmpty ? nil : (step, measurements)
        }
    }

    /// The section's lines; none when no step measured a map.
    public static func lines(_ report: SeriesReport) -> [String] {
        let tables = tables(report)
        guard let (first, firstTable) = tables.first else { return [] }
        let noise = report.memoryNoise ?? [:]
        var lines = [
            "Memory per patch (measured: memory.current growth; reported: memlock):", "",
            "\(label(first, report)): \(firstTable.count) map(s)",
        ]
        lines += MemoryTable.text(firstTable).split(separator: "\n").map { "  " + $0 }
        for ((previous, before), (step, after)) in zip(tables, tables.dropFirst()) {
            let rows = MemoryComparison.compare(before, after)
            let moved = rows.filter { $0.moved(noise: noise) }
            let beyond = noise.isEmpty ? "" : " beyond run-to-run noise"
            let against = "against \(label(previous, report))"
            if moved.isEmpty {
                lines.append("\(label(step, report)): no map's cost moved\(beyond) \(against)")
            } else {
                lines.append(
                    "\(label(step, report)): \(moved.count) map(s) moved\(beyond) \(against)")
                lines += MemoryComparison.text(moved).split(separator: "\n").map { "  " + $0 }
            }
            let quiet = MemoryComparison.withinNoise(rows, noise: noise)
            if !quiet.isEmpty {
                lines.append("  within noise: " + quiet.joined(separator: "; "))
            }
        }
        if !noise.isEmpty {
            lines += [
                "",
                "Noise: the most a map's measured bytes varied over repeated runs of one "
                    + "kernel in the results history.",
            ]
        }
        return lines
    }

    static func label(_ step: SeriesStep, _ report: SeriesReport) -> String {
        step.position == 0
            ? "base \(step.commit.prefix(12))"
            : "patch \(step.position)/\(report.total) \(step.commit.prefix(12))"
    }
}

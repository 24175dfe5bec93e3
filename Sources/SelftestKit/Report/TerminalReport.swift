import Foundation

/// Human-readable output: a live line per finished test, and the run's summary.
public enum TerminalReport {
    /// Lines of evidence shown under a test, at most.
    public static let maxEvidenceLines = 8

    /// The tag shown for an outcome: `PASS`, `FAIL`, `CRASH`, `BUILD`…
    public static func tag(for outcome: Outcome) -> String {
        switch outcome {
        case .pass: "PASS"
        case .skip: "SKIP"
        case .notRun: "NOT RUN"
        case .splat: "SPLAT"
        case .fail: "FAIL"
        case .timeout: "TIMEOUT"
        case .outOfMemory: "OOM"
        case .kernelCrash: "CRASH"
        case .buildError: "BUILD"
        case .infraError: "INFRA"
        }
    }

    /// `FAIL    name (0.12s)`, then up to eight indented lines of evidence
    /// (message, splat title, failing cases) for anything that did not pass.
    public static func line(for record: TestRecord, color: Bool) -> String {
        let style = Style(enabled: color)
        var head = style.paint(padded(tag(for: record.outcome)), record.outcome) + record.name
        if let duration = record.duration, duration.isFinite {
            head += " " + style.dim("(\(String(format: "%.2f", duration))s)")
        }
        let lines = evidence(for: record).map { indent + style.dim($0) }
        return ([head] + lines).joined(separator: "\n")
    }

    /// Counts, phases, the tests that did not pass with their evidence, where
    /// the artifacts are, and last a plain `N passed, M failed[, K skipped]`.
    public static func summary(for report: RunReport, color: Bool) -> String {
        let style = Style(enabled: color)
        var out: [String] = []

        let problems = report.records.filter { !$0.outcome.isSuccess }
        let skips = report.records.filter { $0.outcome == .skip }
        if !problems.isEmpty || !report.unattributedSplats.isEmpty {
            out.append(style.bold("Not passed:"))
            out += problems.map { line(for: $0, color: color) + historyLine($0, style) }
            if !report.unattributedSplats.isEmpty {
                let head = style.paint(padded(tag(for: .splat)), .splat) + "(outside any test)"
                let titles = report.unattributedSplats.map(\.title)
                out.append(
                    ([head] + capped(titles).map { indent + style.dim($0) }).joined(
                        separator: "\n"))
            }
            out.append("")
        }
        let flaky = report.records.filter { record in
            if case .flaky = record.history { record.outcome.isSuccess } else { false }
        }
        if !flaky.isEmpty {
            out.append(style.bold("Passed, but flaky on this kernel:"))
            out += flaky.map { line(for: $0, color: color) + historyLine($0, style) }
            out.append("")
        }
        if !skips.isEmpty {
            out.append(style.bold("Skipped:"))
            out += skips.map { line(for: $0, color: color) }
            out.append("")
        }

        let counts = report.counts
        let perOutcome = Outcome.allCases.compactMap { outcome -> String? in
            guard let count = counts[outcome], count > 0 else { return nil }
            return style.paint("\(count) \(outcome.rawValue)", outcome)
        }
        var tests = "Tests:     \(report.records.count)"
        if !perOutcome.isEmpty {
            tests += " · " + perOutcome.joined(separator: " · ")
        }
        out.append(tests)
        let total =
            report.wallSeconds
            ?? report.records.compactMap(\.duration).filter(\.isFinite).reduce(0, +)
        var time = "Time:      \(seconds(total)) total"
        if !report.phases.isEmpty {
            time += " · " + phases(report.phases)
        }
        out.append(time)
        var kernel = "Kernel:    " + report.kernel
        if let release = report.kernelRelease {
            kernel += " (\(release))"
        }
        out.append(kernel + " on " + report.accelerator.description)
        if let directory = report.artifactsDirectory {
            out.append("Artifacts: " + directory)
        }
        if let history = historyCounts(report.records) {
            out.append("History:   " + history)
        }
        if !report.unattributedSplats.isEmpty {
            let count = report.unattributedSplats.count
            out.append(
                style.paint(
                    "Note:      \(count) kernel splat(s) outside any test; the run fails", .splat))
        }

        let passed = counts[.pass] ?? 0
        let skipped = counts[.skip] ?? 0
        let failed = report.records.count - passed - skipped
        out.append("")
        out.append(
            "\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : ""))
        return out.joined(separator: "\n")
    }

    /// The indented line under a test saying what the history knows.
    static func historyLine(_ record: TestRecord, _ style: Style) -> String {
        guard let note = record.history else { return "" }
        return "\n" + indent + style.bold(note.description)
    }

    /// `1 new · 2 known · 1 flaky` on this kernel; nil when nothing to say.
    static func historyCounts(_ records: [TestRecord]) -> String? {
        var counts = (new: 0, known: 0, flaky: 0)
        for record in records {
            switch record.history {
            case .new: counts.new += 1
            case .known: counts.known += 1
            case .flaky: counts.flaky += 1
            case nil: break
            }
        }
        let parts = [("new", counts.new), ("known", counts.known), ("flaky", counts.flaky)]
            .filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
        return parts.isEmpty ? nil : parts.joined(separator: " · ") + " (on this kernel)"
    }

    /// `compile 0.4s · image 0.1s · boot 3.9s · tests 1.2s · teardown 0.1s`,
    /// the known phases in run order, then any others by name.
    static func phases(_ phases: [String: Double]) -> String {
        let known = RunPhase.allCases.map(\.rawValue)
        let order =
            known.filter { phases[$0] != nil }
            + phases.keys.filter { !known.contains($0) }
            .sorted()
        return order.compactMap { name in phases[name].map { "\(name) \(seconds($0))" } }
            .joined(separator: " · ")
    }

    /// What explains a non-passing record: message or splat title first.
    static func evidence(for record: TestRecord) -> [String] {
        guard record.outcome != .pass else { return [] }
        let message = textLines(record.message ?? "")
        let crashes = record.splats.filter(\.kind.isCrash)
        let titles = (crashes + record.splats.filter { !$0.kind.isCrash }).map { clean($0.title) }
        var lines: [String]
        switch record.outcome {
        case .splat:
            lines = titles + message
        case .kernelCrash:
            let trace = crashes.first.map { crash in
                crash.lines.filter { !$0.contains(crash.title) }.map(clean)
            }
            lines = titles + message + (trace ?? [])
        default:
            lines = message + titles
        }
        // A line said once: a message may repeat a splat's title.
        var seen = Set<String>()
        lines = lines.filter { seen.insert($0).inserted }
        for subtest in record.subtests where subtest.outcome != .pass {
            let detail = textLines(subtest.message ?? "").first ?? subtest.splats.first?.title
            let name = subtest.name.split(separator: "/").last.map(String.init) ?? subtest.name
            lines.append(
                padded(tag(for: subtest.outcome)) + name + (detail.map { ": " + $0 } ?? ""))
        }
        if lines.isEmpty {
            lines = record.diagnostics.suffix(3).map(clean)
        }
        return capped(lines)
    }

    /// At most `maxEvidenceLines` lines, the last one saying how many were cut.
    static func capped(_ lines: [String]) -> [String] {
        guard lines.count > maxEvidenceLines else { return lines }
        let kept = lines.prefix(maxEvidenceLines - 1)
        return kept + ["… \(lines.count - kept.count) more line(s)"]
    }

    /// Non-blank lines of `text`, stripped of control characters.
    static func textLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { clean(String($0)) }
            .filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// `text` without terminal control characters or trailing blanks (tabs become spaces).
    static func clean(_ text: String) -> String {
        let scalars = text.unicodeScalars.compactMap { scalar -> Unicode.Scalar? in
            if scalar == "\t" { return " " }
            return scalar.properties.generalCategory == .control ? nil : scalar
        }
        var line = String(String.UnicodeScalarView(scalars))
        while line.last?.isWhitespace == true {
            line.removeLast()
        }
        return line
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.1fs", value)
    }

    static func padded(_ tag: String) -> String {
        tag.padding(toLength: indent.count, withPad: " ", startingAt: 0)
    }

    /// The column names start at: the longest tag, `TIMEOUT`, and a space.
    static let indent = String(repeating: " ", count: 8)

    /// ANSI styling that does nothing when disabled.
    struct Style {
        var enabled: Bool

        func paint(_ text: String, _ outcome: Outcome) -> String {
            let code =
                switch outcome {
                case .pass: "32"
                case .skip: "33"
                case .splat: "35"
                case .kernelCrash: "1;31"
                default: "31"
                }
            return wrap(text, code)
        }

        func dim(_ text: String) -> String { wrap(text, "2") }
        func bold(_ text: String) -> String { wrap(text, "1") }

        private func wrap(_ text: String, _ code: String) -> String {
            enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
        }
    }
}

import Foundation

/// A series in plain text: the patch × test matrix and a line per verdict.
/// The same text goes to the terminal and, as `--markdown`, into a
/// mailing-list reply: fixed-width, no HTML, the matrix indented as a block.
public enum SeriesText {
    /// Columns shown at most; the JSON has every test.
    static let maxColumns = 26

    /// One character per outcome in the matrix.
    static func symbol(_ outcome: Outcome) -> Character {
        switch outcome {
        case .pass: "."
        case .skip: "s"
        case .notRun: "-"
        case .splat: "W"
        case .fail: "F"
        case .timeout: "T"
        case .outOfMemory: "M"
        case .kernelCrash: "C"
        case .buildError: "E"
        case .infraError: "I"
        }
    }

    static func mark(_ change: StepVerdict.Change?) -> Character {
        switch change {
        case .regression: "!"
        case .flaky: "~"
        case .fixed: "+"
        case nil: " "
        }
    }

    static let legend = [
        ". pass  s skip  F fail  T timeout  C kernel crash  W splat  E program build error",
        "M out of memory  I infra error  - not run  ! regression (first bad)",
        "~ flaky (passed on a re-run)  + fixed",
        "= N: the kernel of step N (byte-identical, or not rebuilt), its results",
    ]

    /// Tests that did not pass at some step, in catalog order: the columns.
    static func columns(_ report: SeriesReport) -> [String] {
        var names: [String] = []
        for step in report.steps {
            for verdict in step.verdicts
            where (verdict.outcome != .pass || verdict.change != nil)
                && !names.contains(verdict.test)
            {
                names.append(verdict.test)
            }
        }
        let order = Dictionary(
            report.steps.flatMap { $0.verdicts.map(\.test) }.enumerated().map { ($1, $0) },
            uniquingKeysWith: { a, _ in a })
        return names.sorted { (order[$0] ?? 0) < (order[$1] ?? 0) }
    }

    /// `A`…`Z`.
    static func label(_ index: Int) -> String {
        String(UnicodeScalar(UInt8(65 + index % 26)))
    }

    /// The matrix: one row per step (base first), one column per test that
    /// did not pass somewhere, then the legend.
    public static func matrix(_ report: SeriesReport) -> [String] {
        let all = columns(report)
        let shown = Array(all.prefix(maxColumns))
        let width = String(report.total).count
        var lines: [String] = []
        let header =
            pad("", 2 * width + 2) + "  " + pad("commit", 12) + "  " + pad("build", 9) + "  "
            + shown.indices.map { label($0) + " " }.joined(separator: " ")
            + (shown.isEmpty ? "" : "  ") + "subject"
        lines.append(header)
        for step in report.steps {
            let position = pad("\(step.position)/\(report.total)", 2 * width + 2, right: true)
            let verdicts = Dictionary(
                step.verdicts.map { ($0.test, $0) }, uniquingKeysWith: { a, _ in a })
            let cells = shown.map { test -> String in
                guard let verdict = verdicts[test] else { return "- " }
                return String(symbol(verdict.outcome)) + String(mark(verdict.change))
            }
            let subject = (step.position == 0 ? "base: " : "") + step.subject
            lines.append(
                position + "  " + String(step.commit.prefix(12)) + "  "
                    + pad(buildCell(step), 9) + "  " + cells.joined(separator: " ")
                    + (shown.isEmpty ? "" : "  ") + clip(subject, 50))
        }
        if let missing = report.notApplied {
            lines.append(
                pad("\(missing.position)/\(report.total)", 2 * width + 2, right: true) + "  "
                    + pad("-", 12) + "  " + pad("not applied", 9) + "  " + missing.subject)
        }
        lines.append("")
        for (index, test) in shown.enumerated() {
            lines.append("\(label(index))  \(test)")
        }
        if all.count > shown.count {
            lines.append(
                "… and \(all.count - shown.count) more test(s) not passing somewhere (see --json)")
        }
        let everywhere = Set(report.steps.flatMap { $0.verdicts.map(\.test) }).subtracting(all)
            .subtracting([StepComparison.unattributed])
        if !everywhere.isEmpty {
            lines.append(
                "\(everywhere.count) \(shown.isEmpty ? "" : "other ")test(s) passed at every step that ran."
            )
        }
        lines.append("")
        let reuse =
            report.steps.contains { $0.reused != nil }
            ? [
                "run N: the results of run N in the history (the same tree and inputs): "
                    + "not built, not booted"
            ] : []
        return lines + legend + reuse
    }

    /// The line that ends a step on the terminal.
    public static func stepLine(_ step: SeriesStep) -> String {
        guard step.build.built else {
            let first = TerminalReport.textLines(step.build.error ?? "").first ?? "?"
            return "does not build (\(BuildStatus.duration(step.build.seconds))): \(first)"
        }
        var parts: [String] = []
        if let reuse = step.reused {
            parts.append("\(reuse.description): not built, not booted")
        } else if let reason = step.build.skipped, let from = step.carriedFrom {
            parts.append("not built: \(reason); step \(from)'s results")
        } else if let from = step.carriedFrom {
            parts.append("kernel identical to step \(from): results carried over")
        } else {
            let steps = step.build.steps.map { $0 == 0 ? "nothing to rebuild" : "\($0) steps" }
            parts.append(
                "built in \(BuildStatus.duration(step.build.seconds))"
                    + (steps.map { " (\($0))" } ?? ""))
        }
        if step.carriedFrom == nil, step.reused == nil, let run = step.run,
            let programs = run.programs
        {
            parts.append(compileLine(programs, seconds: run.phases["compile"]))
        }
        let tests = step.verdicts.filter { $0.test != StepComparison.unattributed }
        let counts = Dictionary(grouping: tests, by: { $0.effective }).mapValues(\.count)
        parts.append(
            "\(tests.count) test(s): "
                + Outcome.allCases.compactMap { outcome in
                    counts[outcome].map { "\($0) \(outcome.rawValue)" }
                }.joined(separator: ", "))
        for change in [StepVerdict.Change.regression, .flaky, .fixed] {
            let names = step.verdicts.filter { $0.change == change }.map(\.test)
            if !names.isEmpty {
                parts.append("\(change.rawValue): " + names.joined(separator: ", "))
            }
        }
        return parts.joined(separator: " · ")
    }

    /// What the step's run did with its programs: a patch that leaves the
    /// kernel's types as they were compiles none.
    static func compileLine(_ programs: ProgramCounts, seconds: Double?) -> String {
        // The phase holds vmlinux.h too: a new kernel's is regenerated even
        // when its text, which keys the programs, comes out the same.
        let time = seconds.map { String(format: " (vmlinux.h and compile %.1f s)", $0) } ?? ""
        let failed = programs.failed > 0 ? ", \(programs.failed) failed" : ""
        return "programs: \(programs.compiled) compiled, \(programs.cached) cached\(failed)\(time)"
    }

    static func buildCell(_ step: SeriesStep) -> String {
        if !step.build.built { return "FAILED" }
        if let from = step.carriedFrom { return "= \(from)" }
        if let reuse = step.reused { return "run \(reuse.run)" }
        return "ok " + BuildStatus.duration(step.build.seconds)
    }

    /// One line per conclusion, with its evidence indented under it.
    public static func verdicts(_ report: SeriesReport) -> [String] {
        var lines: [String] = []
        let total = report.total
        func patch(_ commit: SeriesCommit) -> String {
            "\(commit.position)/\(total) \"\(commit.subject)\" (\(commit.commit.prefix(12)))"
        }
        if !report.regressions.isEmpty {
            lines.append("Regressions:")
            for regression in report.regressions {
                var head =
                    "  \(regression.test): \(regression.outcome.rawValue), first bad patch "
                    + patch(regression.firstBad)
                if let fixed = regression.fixedAt { head += "; passes again at \(fixed)/\(total)" }
                lines.append(head)
                lines += regression.evidence.prefix(8).map { "      " + $0 }
            }
        }
        if !report.buildBreaks.isEmpty {
            lines.append("Does not build:")
            for broken in report.buildBreaks {
                let again =
                    broken.buildsAgainAt.map { "builds again at \($0)/\(total)" }
                    ?? "does not build again in the series"
                lines.append("  patch \(patch(broken.patch)); \(again)")
                lines += TerminalReport.textLines(broken.error).prefix(5).map { "      " + $0 }
            }
        }
        if let missing = report.notApplied {
            let files = missing.files.isEmpty ? "" : ": " + missing.files.joined(separator: ", ")
            lines.append("Does not apply:")
            lines.append(
                "  patch \(missing.position)/\(total) \"\(missing.subject)\"\(files); the series "
                    + "stopped there")
            lines += TerminalReport.textLines(missing.message).prefix(6).map { "      " + $0 }
        }
        if !report.flakes.isEmpty {
            lines.append("Flaky (passed on a re-run; not a regression):")
            lines += report.flakes.map {
                "  \($0.test) at \($0.position)/\(total): \($0.outcome.rawValue), then pass"
            }
        }
        if !report.fixed.isEmpty {
            lines.append("Fixed:")
            lines += report.fixed.map { "  \($0.test) passes from \($0.position)/\(total)" }
        }
        if let base = report.steps.first, base.position == 0, !base.build.built {
            lines.append(
                "Note: the base does not build; patches are compared with the first that does.")
        }
        return lines
    }

    /// The headline: what the run concludes, in one line.
    public static func headline(_ report: SeriesReport) -> String {
        var parts: [String] = []
        let count = report.regressions.count
        parts.append(count == 1 ? "1 regression" : "\(count) regressions")
        if !report.buildBreaks.isEmpty {
            parts.append("\(report.buildBreaks.count) build break(s)")
        }
        if report.notApplied != nil { parts.append("a patch does not apply") }
        if !report.flakes.isEmpty { parts.append("\(report.flakes.count) flaky") }
        let tested = report.steps.filter { $0.position > 0 }.count
        return "\(tested) of \(report.total) patch(es) tested: " + parts.joined(separator: ", ")
    }

    /// The terminal's summary after the live lines.
    public static func text(_ report: SeriesReport) -> String {
        var lines = ["", "Series:    \(report.title)"]
        if let base = report.steps.first {
            lines.append(
                "Base:      \(base.commit.prefix(12)) \(base.subject) (\(report.baseNote))")
        }
        lines.append("")
        lines += matrix(report).map { $0.isEmpty ? "" : "  " + $0 }
        let verdicts = verdicts(report)
        if !verdicts.isEmpty { lines += [""] + verdicts }
        let memory = SeriesMemory.lines(report)
        if !memory.isEmpty { lines += [""] + memory }
        lines += [
            "", "Artifacts: \(report.artifactsDirectory)",
            "Time:      \(BuildStatus.duration(report.seconds))", "", headline(report),
        ]
        return lines.joined(separator: "\n")
    }

    /// `--markdown`: plain text a mailing-list reply can quote as is.
    public static func markdown(_ report: SeriesReport) -> String {
        var lines = ["selftests: \(report.title)", ""]
        if let base = report.steps.first {
            lines.append("Base: \(base.commit.prefix(12)) (\(base.subject); \(report.baseNote))")
        }
        lines.append("Tests: \(report.tests.count) selected; \(headline(report))")
        lines.append("")
        lines += matrix(report).map { $0.isEmpty ? "" : "    " + $0 }
        let verdicts = verdicts(report)
        if !verdicts.isEmpty { lines += [""] + verdicts }
        let memory = SeriesMemory.lines(report)
        if !memory.isEmpty { lines += [""] + memory.map { $0.isEmpty ? "" : "    " + $0 } }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text`, cut to `width` characters with an ellipsis.
    static func clip(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : text.prefix(width - 1) + "…"
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return right ? fill + text : text + fill
    }
}

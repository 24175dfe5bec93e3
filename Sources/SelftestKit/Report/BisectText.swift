import Foundation

/// A bisect in plain text: each step's mark, the first bad commit with its
/// evidence, the build count against its bound, and `git bisect log`.
public enum BisectText {
    public static func text(_ report: BisectReport) -> String {
        var lines = [
            "",
            "Bisect:    \(report.good.prefix(12))..\(report.bad.prefix(12)) "
                + "(\(report.commits) commit(s)) for \(report.signature.description)", "",
        ]
        for step in report.steps {
            let build =
                step.step.build.built
                ? BuildStatus.duration(step.step.build.seconds) : "FAILED"
            lines.append(
                "  " + SeriesText.pad(step.label, 8) + "  " + String(step.step.commit.prefix(12))
                    + "  " + SeriesText.pad(step.mark.rawValue, 4) + "  build "
                    + SeriesText.pad(build, 7) + "  " + step.reason)
        }
        lines.append("")
        if let culprit = report.culprit {
            lines.append("First bad commit: \(culprit.commit) \(culprit.subject)")
            for evidence in culprit.evidence {
                lines.append("  \(evidence.test): \(evidence.outcome.rawValue)")
                lines += evidence.lines.prefix(8).map { "      " + $0 }
            }
        } else {
            lines.append("Skipped commits hide the first bad commit; it is one of:")
            lines += report.candidates.map { "  " + $0 }
        }
        let skipped = report.steps.dropFirst(2).filter { $0.mark == .skip }.count
        lines += [
            "",
            "Builds:    \(report.builds) bisect step(s) (bound ⌈log2 \(report.commits)⌉ + 1"
                + (skipped > 0 ? " + \(skipped) skipped" : "") + " = \(report.bound)), "
                + "after the 2 endpoint checks",
            "Time:      \(BuildStatus.duration(report.seconds))",
            "Log:       \(report.logFile)",
            "Artifacts: \(report.artifactsDirectory)",
            "",
            "git bisect log:",
        ]
        lines += report.log.split(separator: "\n").map { "  " + $0 }
        return lines.joined(separator: "\n")
    }
}

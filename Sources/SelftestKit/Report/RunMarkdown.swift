/// `--markdown` for a single run (or a merged sharded one): a heading with
/// the verdict, then the terminal summary as a block, which a CI job
/// summary or a mail shows as it is.
public enum RunMarkdown {
    public static func markdown(_ report: RunReport) -> String {
        let kernel = report.kernelRelease ?? report.kernel
        let verdict = report.exitCode == 0 ? "passed" : "did not pass"
        return """
            ## selftests on \(kernel): \(verdict)

            ```
            \(TerminalReport.summary(for: report, color: false))
            ```

            """
    }
}

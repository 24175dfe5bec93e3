import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests merge`: the reports of a sharded run, joined into one.
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the --json reports of `run --shard 1/N` … `N/N` into one report.",
            discussion: """
                Refuses reports of another kernel or another selection, a shard given twice \
                and a shard missing. Exits as the merged run would: 0 every test passed or \
                skipped, 1 some did not, 2 reports that do not belong together.
                """)

        @Argument(help: "The shards' --json reports.")
        var reports: [String]

        @Option(name: .long, help: "Write the merged JUnit XML report here.")
        var junit: String?

        @Option(name: .long, help: "Write the merged JSON report here.")
        var json: String?

        @Option(name: .long, help: "Write a Markdown summary here (for a CI job summary).")
        var markdown: String?

        @Flag(name: .long, help: "Never color the output.")
        var noColor = false

        func run() throws {
            try ReportFiles.check([("--junit", junit), ("--json", json), ("--markdown", markdown)])
            let inputs = try reports.map { path in (path: path, report: try Self.read(path)) }
            let merged = try ReportMerge.merge(inputs)
            ReportFiles.write([
                ("--junit", junit, { Data(JUnitReport.xml(for: merged).utf8) }),
                ("--json", json, { try JSONReport.data(for: merged) }),
                ("--markdown", markdown, { Data(RunMarkdown.markdown(merged).utf8) }),
            ])
            print(
                TerminalReport.summary(
                    for: merged, color: MachineOptions.color(noColor: noColor)))
            throw ExitCode(merged.exitCode)
        }

        static func read(_ path: String) throws -> RunReport {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SelftestError(
                    .usage, .reports, "cannot read \(path)", input: path,
                    fix: "name the --json file each `selftests run --shard K/N` wrote")
            }
            do {
                return try JSONReport.report(from: data)
            } catch {
                throw SelftestError(
                    .usage, .reports, "\(path) is not a selftests --json report", input: path,
                    fix: "name the --json file each `selftests run --shard K/N` wrote")
            }
        }
    }
}

import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests memory`: what BPF maps really cost against what the kernel
    /// reports, as a table, CSV, JSON and a chart.
    struct Memory: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure what BPF maps cost in the guest against memlock and the naive "
                + "estimate; print a table, write CSV, JSON and an SVG chart.",
            discussion: """
                Runs the memory/* tests. --large adds memory/large/*: 1M-entry maps (among \
                them the published case, HASH 4/4 × 1,048,576 preallocated) and thousands of \
                local-storage owners; it takes minutes under TCG.

                The table is recorded in the results history (history.sqlite in the cache; \
                not with --no-history), as is every run, series step and bisect step whose \
                tests measured maps. --compare REF then prints, per map type and size, what \
                changed in measured and reported bytes against the newest stored table of \
                REF: a run id, a kernel (an image's path, digest prefix or release) or a \
                tree commit. A REF that names no stored table is refused before any boot \
                (exit 2).
                """)

        @OptionGroup(title: "Kernel") var kernel: KernelOptions

        @Flag(name: .long, help: "Also run the 1M-entry and many-owner cases.")
        var large = false

        @Option(name: .long, help: "Directory for memory.csv, memory.json and memory.svg.")
        var output = "memory-report"

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Print what changed against a stored table: a run id, kernel or tree commit.",
                valueName: "ref"))
        var compare: String?

        @OptionGroup(title: "Machine") var machine: MachineOptions

        @OptionGroup(title: "History") var history: HistoryOptions

        func validate() throws {
            if compare != nil && history.noHistory {
                throw ValidationError("--compare reads the results history: drop --no-history")
            }
        }

        func run() throws {
            InterruptHandler.install()
            try ReportFiles.checkDirectory(option: "--output", path: output)
            var options = RunOptions()
            kernel.apply(to: &options)
            machine.apply(to: &options, defaultMemory: large ? 2048 : 1024)
            history.apply(to: &options)
            options.filter = large ? "memory/*,memory/large/*" : "memory/*"
            let cache = Run.cache(options)
            let reference = try compare.map { try MemoryReference.resolve($0, cache: cache) }
            let color = machine.color
            let run = try RunPipeline.forTerminal(options, color: color).run()
            let report = MemoryReport(run: run)
            print("")
            print(MemoryTable.text(report.measurements), terminator: "")
            print("")
            if let reference {
                print("Against \(reference.name), \(compare ?? ""):")
                let rows = MemoryComparison.compare(reference.measurements, report.measurements)
                print(MemoryComparison.text(rows), terminator: "")
                let noise = options.history ? HistoryRecorder(cache: cache).memoryNoise() : [:]
                let quiet = MemoryComparison.withinNoise(rows, noise: noise)
                if !quiet.isEmpty {
                    print(
                        "Within run-to-run noise (the most the map varied over repeated runs "
                            + "of one kernel): " + quiet.joined(separator: "; "))
                }
                print("")
            }
            if options.history {
                HistoryRecorder(cache: cache).record(run, kind: .run)
            }
            do {
                for file in try report.write(to: URL(fileURLWithPath: output)) {
                    print("wrote \(file.path)")
                }
            } catch {
                // The measurements are on the terminal; the run's status stands.
                FileHandle.standardError.write(
                    Data(
                        ("selftests: could not write --output \(output): "
                            + "\(ReportFiles.reason(error))\n").utf8))
            }
            print(TerminalReport.summary(for: run, color: color))
            throw ExitCode(run.exitCode)
        }
    }
}

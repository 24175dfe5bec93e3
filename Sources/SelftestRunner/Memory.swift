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
                """)

        @OptionGroup(title: "Kernel") var kernel: KernelOptions

        @Flag(name: .long, help: "Also run the 1M-entry and many-owner cases.")
        var large = false

        @Option(name: .long, help: "Directory for memory.csv, memory.json and memory.svg.")
        var output = "memory-report"

        @OptionGroup(title: "Machine") var machine: MachineOptions

        func run() throws {
            InterruptHandler.install()
            try ReportFiles.checkDirectory(option: "--output", path: output)
            var options = RunOptions()
            kernel.apply(to: &options)
            machine.apply(to: &options, defaultMemory: large ? 2048 : 1024)
            options.filter = large ? "memory/*,memory/large/*" : "memory/*"
            let color = machine.color
            let run = try RunPipeline.forTerminal(options, color: color).run()
            let report = MemoryReport(run: run)
            print("")
            print(MemoryTable.text(report.measurements), terminator: "")
            print("")
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

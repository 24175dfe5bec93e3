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

        @Option(
            name: .long, help: "A bzImage to test (default: the kernel scripts/setup.sh installed)."
        )
        var kernel: String?

        @Option(name: .long, help: "The vmlinux matching --kernel, for its BTF.")
        var vmlinux: String?

        @Flag(name: .long, help: "Also run the 1M-entry and many-owner cases.")
        var large = false

        @Option(name: .long, help: "Directory for memory.csv, memory.json and memory.svg.")
        var output = "memory-report"

        @Option(
            name: .long, help: "auto: KVM only if it really runs the guest, else TCG; or kvm, tcg.")
        var accel: AcceleratorChoice.Request = .auto

        @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
        var cacheDir: String?

        @Option(name: .long, help: "Guest memory in MiB (default: 1024; 2048 with --large).")
        var memory: Int?

        @Flag(name: .long, help: "Never color the output.")
        var noColor = false

        func validate() throws {
            if let memory, memory < 256 {
                throw ValidationError("--memory must be at least 256 (MiB)")
            }
        }

        func run() throws {
            InterruptHandler.install()
            var options = RunOptions()
            options.kernel = kernel
            options.vmlinux = vmlinux
            options.filter = large ? "memory/*,memory/large/*" : "memory/*"
            options.accelerator = accel
            options.cacheDirectory = cacheDir.map { URL(fileURLWithPath: $0) }
            options.memoryMiB = memory ?? (large ? 2048 : 1024)
            let color =
                !noColor && isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            let run = try RunPipeline(options: options, observer: TerminalObserver(color: color))
                .run()
            let report = MemoryReport(run: run)
            print("")
            print(MemoryTable.text(report.measurements), terminator: "")
            let files = try report.write(to: URL(fileURLWithPath: output))
            print("")
            for file in files { print("wrote \(file.path)") }
            print(TerminalReport.summary(for: run, color: color))
            throw ExitCode(run.exitCode)
        }
    }
}

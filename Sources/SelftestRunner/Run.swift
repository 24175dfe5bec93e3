import ArgumentParser
import Foundation
import SelftestKit

extension AcceleratorChoice.Request: ExpressibleByArgument {}
extension TCGThreading: ExpressibleByArgument {}

extension Selftests {
    /// `selftests run`: the whole pipeline on one kernel.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile the programs, boot the kernel and run the tests (the default).")

        @Option(
            name: .long, help: "A bzImage to test (default: the kernel scripts/setup.sh installed)."
        )
        var kernel: String?

        @Option(
            name: .long,
            help: "The vmlinux matching --kernel, for its BTF (default: extracted from the image).")
        var vmlinux: String?

        @Option(
            name: .long,
            help: "A kernel source tree to build (incrementally, under the cache) and test.")
        var tree: String?

        @Option(
            name: .customLong("config"),
            help: ArgumentHelp(
                "With --tree: a config fragment on top of bpf-minimal (repeatable).",
                discussion: "A name in vm/config (debug, kasan), 'selftests' for the tree's own "
                    + "tools/testing/selftests/bpf/config, or a fragment file."))
        var configs: [String] = []

        @Option(name: .long, help: "Tests to run: globs joined by commas, e.g. 'storage/sk/*'.")
        var filter: String?

        @Option(
            name: .long, help: "auto: KVM only if it really runs the guest, else TCG; or kvm, tcg.")
        var accel: AcceleratorChoice.Request = .auto

        @Option(name: .long, help: "Write a JUnit XML report here.")
        var junit: String?

        @Option(name: .long, help: "Write a JSON report here.")
        var json: String?

        @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
        var cacheDir: String?

        @Option(name: .long, help: "Directory of the BPF programs (default: the package's progs/).")
        var progs: String?

        @Option(name: .long, help: "The guest agent binary (default: next to this executable).")
        var agent: String?

        @Option(name: .long, help: "Seconds the kernel may take to start the agent.")
        var bootTimeout: Double = 60

        @Option(
            name: .long, help: "Seconds any one test may take (default: each test's own bound).")
        var testTimeout: Int?

        @Option(name: .long, help: "Seconds the whole run may take.")
        var runTimeout: Double = 1800

        @Option(name: .long, help: "Guest memory in MiB.")
        var memory: Int = 1024

        @Option(name: .long, help: "Guest CPUs.")
        var cpus: Int = 2

        @Option(name: .long, help: "TCG vCPU threads: single (no cross-vCPU races) or multi.")
        var tcgThreads: TCGThreading = .single

        @Flag(name: .long, help: "Never color the output.")
        var noColor = false

        func validate() throws {
            if bootTimeout <= 0 || runTimeout <= 0 || (testTimeout ?? 1) <= 0 {
                throw ValidationError("timeouts must be positive")
            }
            if memory < 256 { throw ValidationError("--memory must be at least 256 (MiB)") }
            if cpus < 1 { throw ValidationError("--cpus must be at least 1") }
            if tree != nil && (kernel != nil || vmlinux != nil) {
                throw ValidationError(
                    "--tree builds the kernel; it cannot go with --kernel or --vmlinux")
            }
            if tree == nil && !configs.isEmpty {
                throw ValidationError("--config applies to a kernel built with --tree")
            }
        }

        func run() throws {
            InterruptHandler.install()
            var options = RunOptions()
            options.kernel = kernel
            options.vmlinux = vmlinux
            options.filter = filter
            options.accelerator = accel
            options.cacheDirectory = cacheDir.map { URL(fileURLWithPath: $0) }
            options.progsDirectory = progs.map { URL(fileURLWithPath: $0) }
            options.agent = agent
            options.bootTimeout = bootTimeout
            options.testTimeout = testTimeout
            options.runTimeout = runTimeout
            options.memoryMiB = memory
            options.cpus = cpus
            options.tcgThreading = tcgThreads
            options.tree = tree
            options.configs = configs
            let color =
                !noColor && isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            let observer = TerminalObserver(color: color)
            var pipeline = RunPipeline(options: options, observer: observer)
            pipeline.buildObserver = TerminalBuildObserver(interactive: isatty(2) == 1)
            let report = try pipeline.run()
            if let junit {
                try Data(JUnitReport.xml(for: report).utf8).write(to: URL(fileURLWithPath: junit))
            }
            if let json {
                try JSONReport.data(for: report).write(to: URL(fileURLWithPath: json))
            }
            print(TerminalReport.summary(for: report, color: color))
            throw ExitCode(report.exitCode)
        }
    }
}

/// Prints notes to stderr and one line per finished test to stdout.
struct TerminalObserver: RunObserver {
    var color: Bool

    func note(_ text: String) {
        FileHandle.standardError.write(Data("selftests: \(text)\n".utf8))
    }

    func finished(_ record: TestRecord) {
        print(TerminalReport.line(for: record, color: color))
        fflush(nil)
    }
}

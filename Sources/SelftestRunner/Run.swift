import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests run`: the whole pipeline on one kernel.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile the programs, boot the kernel and run the tests (the default).")

        @OptionGroup(title: "Kernel") var kernel: KernelOptions

        @Option(name: .long, help: "Tests to run: globs joined by commas, e.g. 'storage/sk/*'.")
        var filter: String?

        @Option(name: .long, help: "Write a JUnit XML report here.")
        var junit: String?

        @Option(name: .long, help: "Write a JSON report here.")
        var json: String?

        @Option(name: .long, help: "Directory of the BPF programs (default: the package's progs/).")
        var progs: String?

        @Option(name: .long, help: "The guest agent binary (default: next to this executable).")
        var agent: String?

        @Option(
            name: .long, help: "Seconds any one test may take (default: each test's own bound).")
        var testTimeout: Int?

        @OptionGroup(title: "Machine") var machine: MachineOptions

        func validate() throws {
            if (testTimeout ?? 1) <= 0 { throw ValidationError("timeouts must be positive") }
        }

        func run() throws {
            InterruptHandler.install()
            var options = RunOptions()
            kernel.apply(to: &options)
            machine.apply(to: &options)
            options.filter = filter
            options.progsDirectory = progs.map { URL(fileURLWithPath: $0) }
            options.agent = agent
            options.testTimeout = testTimeout
            let color = machine.color
            let report = try RunPipeline.forTerminal(options, color: color).run()
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

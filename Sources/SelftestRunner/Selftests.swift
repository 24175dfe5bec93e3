import ArgumentParser
import Foundation
import SelftestKit

/// The `selftests` command: run BPF tests on a kernel in QEMU.
@main
struct Selftests: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftests",
        abstract: "Boot a kernel in QEMU and run BPF tests on it through libbpf.",
        discussion: """
            Exit status: 0 every test passed or skipped; 1 a test did not; \
            2 bad usage or a missing tool; 3 the runner itself failed; 130 interrupted.
            """,
        subcommands: [
            Run.self, Series.self, Bisect.self, List.self, Kernel.self, Memory.self,
            B4CheckCommand.self, Merge.self, History.self, Flakes.self, CacheCommand.self,
        ],
        defaultSubcommand: Run.self)

    /// Maps every way out to the documented exit codes (ArgumentParser's own
    /// usage code is 64; ours is 2).
    ///
    /// A signal's shutdown kills the children first, so the work that
    /// waited on one may fail, or end, before the shutdown exits 130: every
    /// way out waits for the shutdown when one is under way
    /// (`waitIfShuttingDown`), or `ldd` killed by a SIGHUP read as exit 3.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
            InterruptHandler.waitIfShuttingDown()
        } catch let error as SelftestError {
            InterruptHandler.waitIfShuttingDown()
            InterruptHandler.reapAll()
            FileHandle.standardError.write(Data("selftests: error: \(error)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch let error as ExitCode {
            InterruptHandler.waitIfShuttingDown()
            Foundation.exit(error.rawValue)
        } catch {
            InterruptHandler.waitIfShuttingDown()
            InterruptHandler.reapAll()
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data("\(fullMessage(for: error))\n".utf8))
            Foundation.exit(2)
        }
    }
}

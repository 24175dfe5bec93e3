import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The results history with the real binary, real boots and a cache of
/// its own: a test passes, then fails because its program no longer
/// compiles (the same kernel, other programs), then fails again. The
/// summary says new, then known; `history` and `flakes` show the three
/// runs; `--no-history` records nothing.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) final class HistoryRunTests {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "history-run-\(UUID())")
        let test = "storage/sk/omem_charge_delete"

        init() throws {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: scratch) }

        func selftests(_ arguments: [String]) throws -> CommandResult {
            try SystemRunner().run(
                Command(CommandLineTests.binary, arguments + ["--cache-dir", cache]),
                timeout: 600)
        }

        var cache: String { scratch.appendingPathComponent("cache").path }

        /// `progs/` with the test's program broken: it no longer compiles.
        func brokenProgs() throws -> String {
            let copy = scratch.appendingPathComponent("progs")
            try FileManager.default.copyItem(at: RunPipeline.defaultProgsDirectory, to: copy)
            let source = copy.appendingPathComponent("sk_storage_omem.bpf.c")
            let text = try String(contentsOf: source, encoding: .utf8)
            try (text + "\n#error broken on purpose by HistoryRunTests\n").write(
                to: source, atomically: true, encoding: .utf8)
            return copy.path
        }

        @Test func twoRealRunsSayNewThenKnownAndHistoryShowsThem() throws {
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let run = ["run", "--kernel", kernel.path, "--filter", test]
            let broken = try brokenProgs()

            let first = try selftests(run)
            #expect(first.status == 0, "\(first.stdoutText)\(first.stderrText)")
            #expect(!first.stdoutText.contains("History:"), "nothing recorded before it")

            let json = scratch.appendingPathComponent("second.json").path
            let second = try selftests(run + ["--progs", broken, "--json", json])
            #expect(second.status == 1)
            #expect(second.stdoutText.contains("BUILD   \(test)"), "\(second.stdoutText)")
            #expect(second.stdoutText.contains("new: passed the last time on this kernel"))
            #expect(second.stdoutText.contains("History:   1 new (on this kernel)"))
            let report = try JSONReport.report(
                from: try Data(contentsOf: URL(fileURLWithPath: json)))
            guard case .new = report.records.first?.history else {
                Issue.record("the JSON record lacks its note: \(report.records)")
                return
            }

            let third = try selftests(run + ["--progs", broken])
            #expect(third.status == 1)
            #expect(third.stdoutText.contains("known: failed 1 of the last 2 on this kernel"))

            // Opting out: the run happens, nothing is recorded.
            let unrecorded = try selftests(run + ["--no-history"])
            #expect(unrecorded.status == 0)
            #expect(!unrecorded.stdoutText.contains("History:"))

            let history = try selftests(["history", "storage/sk/*"])
            #expect(history.status == 0)
            let row = history.stdoutText.split(separator: "\n").first { $0.hasPrefix(test) }
            let cells = row.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
            #expect(cells.count > 4, "\(history.stdoutText)")
            #expect(cells.dropFirst().prefix(3) == ["3", "33%", "1"], "runs, pass rate, flips")
            #expect(history.stdoutText.contains("build-error on \(kernel.release ?? "?")"))

            let flakes = try selftests(["flakes", "--json", "--since", "1d"])
            #expect(flakes.status == 0)
            struct Flakes: Decodable { var flakes: [FlakyTest] }
            let found = try JSONDecoder().decode(Flakes.self, from: flakes.stdout)
            #expect(found.flakes.map(\.test) == [test])
            #expect(found.flakes.first?.kernels.first?.outcomes == ["pass": 1, "build-error": 2])
            let digest = try FileDigests(store: nil).digest(of: kernel.path)
            #expect(found.flakes.first?.kernels.first?.kernel == digest)
            // --kernel by path names the same image.
            let byPath = try selftests(["history", test, "--kernel", kernel.path, "--json"])
            let export = try JSONDecoder().decode(HistoryExport.self, from: byPath.stdout)
            #expect(export.tests.map(\.runs) == [3])
        }
    }
}

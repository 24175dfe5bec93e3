import Foundation
import Testing

@testable import SelftestKit

/// The `selftests` executable itself: exit codes, messages, Ctrl-C.
extension VirtualMachineSuites {
    @Suite struct CommandLineTests {
        static var binary: String {
            let me =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
            return URL(fileURLWithPath: me).deletingLastPathComponent()
                .appendingPathComponent("selftests").path
        }

        func selftests(_ arguments: [String]) throws -> CommandResult {
            try SystemRunner().run(Command(Self.binary, arguments), timeout: 600)
        }

        @Test func listShowsTheSuiteGroupedWithoutFixtures() throws {
            let result = try selftests(["list"])
            #expect(result.status == 0)
            #expect(result.stdoutText.contains("storage/\n"))
            #expect(result.stdoutText.contains("storage/sk/omem_uncharge_on_map_free"))
            #expect(!result.stdoutText.contains("fixture/"))
        }

        @Test func aKernelThatDoesNotExistIsExit2NamingIt() throws {
            let result = try selftests(["run", "--kernel", "/no/such/bzImage"])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("/no/such/bzImage"))
            #expect(result.stderrText.contains("fix:"))
        }

        @Test func aFilterThatMatchesNothingIsExit2() throws {
            let result = try selftests(["run", "--filter", "no/such/test"])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("no test matches"))
        }

        @Test func badOptionValuesAreExit2() throws {
            #expect(try selftests(["run", "--accel", "warp"]).status == 2)
            #expect(try selftests(["run", "--memory", "12"]).status == 2)
        }

        @Test func aFailingTestIsExit1WithJUnitAndJSON() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let junit = dir.appendingPathComponent("out.xml").path
            let json = dir.appendingPathComponent("out.json").path
            let result = try selftests([
                "run", "--filter", "fixture/fail,fixture/pass", "--junit", junit, "--json", json,
            ])
            #expect(result.status == 1)
            #expect(result.stdoutText.contains("1 passed, 1 failed"))
            let xml = try String(contentsOfFile: junit, encoding: .utf8)
            #expect(xml.contains("<failure"))
            let report = try JSONDecoder().decode(
                RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
            #expect(report.records.map(\.outcome) == [.pass, .fail])
        }

        @Test func ctrlCStopsTheRunAndLeavesNoQEMU() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cli-int-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try ChildProcess.spawn(
                Command(Self.binary, ["run", "--filter", "fixture/hang"]),
                stdout: dir.appendingPathComponent("out").path,
                stderr: dir.appendingPathComponent("err").path)
            defer { child.kill() }
            // The run's artifacts directory ends in the runner's pid.
            let ours = "-\(child.pid)/boot-"
            let deadline = Date().addingTimeInterval(120)
            while qemuProcesses(using: ours).isEmpty && Date() < deadline && child.poll() == nil {
                usleep(50_000)
            }
            try #require(!qemuProcesses(using: ours).isEmpty, "the run never started QEMU")
            kill(child.pid, SIGINT)
            let status = child.wait(timeout: 30)
            #expect(status == 130)
            #expect(qemuProcesses(using: ours).isEmpty, "QEMU outlived the interrupted run")
            let stderr = try String(
                contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)
            #expect(stderr.contains("interrupted"))
        }
    }
}

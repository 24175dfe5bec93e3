import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Real runs that go wrong on purpose: each fault gets its own outcome or
/// typed error, fast, with nothing left running.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) struct FaultRunTests {
        func run(_ filter: String, _ adjust: (inout RunOptions) -> Void) throws -> RunReport {
            var options = RunOptions()
            options.filter = filter
            adjust(&options)
            let report = try RunPipeline(options: options, observer: RunRecorder()).run()
            let artifacts = try #require(report.artifactsDirectory)
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")
            return report
        }

        func record(_ report: RunReport, _ name: String) throws -> TestRecord {
            try #require(report.records.first { $0.name == name }, "no record for \(name)")
        }

        func boots(_ report: RunReport) throws -> [String] {
            try FileManager.default.contentsOfDirectory(
                atPath: try #require(report.artifactsDirectory)
            ).filter { $0.hasPrefix("boot-") }.sorted()
        }

        /// 256 MiB is too little for 4096 sockets, 1024 tasks and 4096
        /// cgroups of local storage: the OOM killer kills the agent.
        @Test func aGuestOutOfMemoryIsOutOfMemoryWithTheKillsAndTheFix() throws {
            let report = try run("memory/large/storage") { $0.memoryMiB = 256 }
            let storage = try record(report, "memory/large/storage")
            #expect(storage.outcome == .outOfMemory, "\(storage.message ?? "")")
            #expect(!storage.splats.isEmpty)
            #expect(storage.splats.allSatisfy { $0.kind == .outOfMemory })
            #expect(storage.splats.contains { $0.title.contains("Killed process") })
            #expect(storage.message?.contains("--memory 512") == true)
            #expect(report.exitCode == 1)
        }

        /// The bound runs out while `fixture/hang_guest` hangs the agent
        /// (the host watchdog is set far beyond it): no second boot, and
        /// `fixture/warn`, next in the catalog's order, did not run, for
        /// that reason. One guest: two would run `fixture/warn` at once.
        @Test func aSpentRunBoundStopsBootingAndTheRestIsNotRun() throws {
            let report = try run("fixture/warn,fixture/hang_guest") {
                $0.runTimeout = 30
                $0.watchdogGrace = 600
                $0.jobs = 1
            }
            #expect(try boots(report) == ["boot-1"])
            #expect(report.records.map(\.name) == ["fixture/hang_guest", "fixture/warn"])
            let warn = try record(report, "fixture/warn")
            #expect(warn.outcome == .notRun)
            #expect(warn.message?.contains("--run-timeout 30") == true)
            // A boot slower than the bound leaves it not run too.
            let hang = try record(report, "fixture/hang_guest")
            #expect([.timeout, .notRun].contains(hang.outcome), "\(hang.message ?? "")")
            #expect(!report.records.contains { $0.outcome == .infraError })
            #expect(report.exitCode == 1)
        }

        /// On a host whose KVM cannot run a guest (this build machine's
        /// fails every one), `--accel kvm` stops at the first boot with the
        /// cause, not after two boot timeouts; then the next run knows.
        @Test(.enabled(if: kvmCannotRunAGuest(), "needs a host whose KVM cannot run a guest"))
        func kvmThatCannotRunTheGuestStopsAtTheFirstBootThenIsRefusedUpFront() throws {
            // A cache of its own, so that no probe result is known yet.
            let cache = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-kvm-\(getpid())")
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: cache) }
            try FileManager.default.createSymbolicLink(
                at: cache.appendingPathComponent("kernels"),
                withDestinationURL: Cache.defaultRoot().appendingPathComponent("kernels"))

            var options = RunOptions()
            options.filter = "fixture/pass"
            options.accelerator = .kvm
            options.cacheDirectory = cache
            let error = try #require(throws: SelftestError.self) {
                try RunPipeline(options: options, observer: RunRecorder()).run()
            }
            #expect(error.kind == .environment)
            #expect(error.domain == .machine)
            #expect(error.input == "--accel kvm")
            #expect(error.exitCode == 2)
            #expect(qemuProcesses(using: cache.path).isEmpty, "a QEMU process outlived the run")
            let runs = cache.appendingPathComponent("runs")
            let first = try FileManager.default.contentsOfDirectory(atPath: runs.path)
            #expect(first.count == 1)
            let boots = try FileManager.default.contentsOfDirectory(
                atPath: runs.appendingPathComponent(first[0]).path
            ).filter { $0.hasPrefix("boot-") }
            #expect(boots == ["boot-1"], "no second boot")
            let qemu = try Toolchain.discover().qemu
            guard case .broken = KVMProbe(qemu: qemu, cache: Cache(root: cache)).known() else {
                Issue.record("the failure was not kept for the next run")
                return
            }

            // The command line, now that the failure is known: exit 2, no boot.
            let result = try SystemRunner().run(
                Command(
                    CommandLineTests.binary,
                    [
                        "run", "--accel", "kvm", "--filter", "fixture/pass", "--cache-dir",
                        cache.path,
                    ]
                ), timeout: 600)
            #expect(result.status == 2)
            #expect(result.stderrText.contains("input: --accel kvm"))
            let second = try FileManager.default.contentsOfDirectory(atPath: runs.path)
                .filter { !first.contains($0) }
            for run in second {
                let inside = try FileManager.default.contentsOfDirectory(
                    atPath: runs.appendingPathComponent(run).path
                ).filter { $0.hasPrefix("boot-") }
                #expect(inside.isEmpty, "refused before any boot")
            }
        }
    }
}

/// Whether KVM on this host cannot run a guest, as the (cached) probe finds.
func kvmCannotRunAGuest() -> Bool {
    guard let qemu = try? Toolchain.discover().qemu,
        let kernel = try? KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
    else { return false }
    // On a fresh machine nothing is cached yet: probe (a guest booted for
    // seconds), so that CI decides on what this host's KVM really does.
    let probe = KVMProbe(qemu: qemu, cache: Cache(root: Cache.defaultRoot()))
    if case .broken = probe.state(kernel: kernel.path) { return true }
    return false
}

import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Every suite that boots a VM, one at a time: they share two cores.
@Suite(.serialized) enum VirtualMachineSuites {}

/// Real runs: the default kernel in QEMU (TCG on this kind of machine),
/// the guest agent, libbpf. Each checks that it left no QEMU behind.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) struct VMRunTests {
        /// `jobs`: one guest unless said, so that a fault's test is followed,
        /// in the same guest, by the next (the re-boot these tests prove);
        /// nil is the default (`--jobs` not given).
        func run(
            _ filter: String?, grace: Double = 15, bootTimeout: Double = 60, jobs: Int? = 1
        ) throws -> (RunReport, RunRecorder) {
            var options = RunOptions()
            options.filter = filter
            options.watchdogGrace = grace
            options.bootTimeout = bootTimeout
            options.jobs = jobs
            let recorder = RunRecorder()
            let report = try RunPipeline(options: options, observer: recorder).run()
            let artifacts = try #require(report.artifactsDirectory)
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")
            return (report, recorder)
        }

        func record(_ report: RunReport, _ name: String) throws -> TestRecord {
            try #require(report.records.first { $0.name == name }, "no record for \(name)")
        }

        /// As a user runs it: as many guests as the host keeps busy.
        @Test func defaultSuitePassesOnTheDefaultKernel() throws {
            let (report, recorder) = try run(nil, jobs: nil)  // the default: host-sized
            let expected = TestFilter(nil).select(from: Catalog.all).map(\.name)
            #expect(report.records.map(\.name) == expected)
            for record in report.records {
                #expect(record.outcome == .pass, "\(record.name): \(record.message ?? "")")
            }
            #expect(report.exitCode == 0)
            #expect(report.kernelRelease?.hasPrefix("6.12.") == true)
            #expect(recorder.live.count == expected.count, "one live line per test")
            #expect(report.phases["boot", default: 0] > 0)
        }

        @Test func fixturesGetTheirOutcomesWithEvidence() throws {
            let (report, recorder) = try run(
                "fixture/pass,fixture/fail,fixture/skip,fixture/hang,fixture/warn,fixture/build_error"
            )
            #expect(
                Dictionary(uniqueKeysWithValues: recorder.live.map { ($0.name, $0.outcome) })
                    == Dictionary(
                        uniqueKeysWithValues: report.records.map { ($0.name, $0.outcome) }),
                "the live lines agree with the final verdicts (splats pinned as they happen)")
            #expect(try record(report, "fixture/pass").outcome == .pass)

            let fail = try record(report, "fixture/fail")
            #expect(fail.outcome == .fail)
            #expect(fail.message?.contains("fixture arithmetic: expected 3, got 2") == true)

            let skip = try record(report, "fixture/skip")
            #expect(skip.outcome == .skip)
            #expect(skip.message == "the fixture always skips")

            let hang = try record(report, "fixture/hang")
            #expect(hang.outcome == .timeout)
            #expect((hang.duration ?? 99) < 10, "the agent's 3 s bound held")

            let warn = try record(report, "fixture/warn")
            #expect(warn.outcome == .splat)
            #expect(warn.splats.first?.kind == .warning)
            #expect(warn.splats.first?.test == "fixture/warn")
            #expect(report.records.filter { !$0.splats.isEmpty }.map(\.name) == ["fixture/warn"])

            let build = try record(report, "fixture/build_error")
            #expect(build.outcome == .buildError)
            #expect(build.message?.contains("error:") == true)
            #expect(report.exitCode == 1)
        }

        @Test func aGuestThatStopsRespondingIsATimeoutAndTheRunGoesOn() throws {
            let started = Date()
            let (report, _) = try run("fixture/hang_guest,fixture/pass", grace: 5)
            let hang = try record(report, "fixture/hang_guest")
            #expect(hang.outcome == .timeout)
            #expect(hang.message?.contains("host watchdog") == true)
            #expect(
                try record(report, "fixture/pass").outcome == .pass,
                "the next test ran in a new boot")
            // 3 s bound + 5 s grace, two boots: well under a minute.
            #expect(Date().timeIntervalSince(started) < 90)
        }

        @Test func aGuestThatNeverReachesTheAgentIsRetriedOnceThenInfraError() throws {
            // No kernel reaches init in 1 s under TCG: both boots time out.
            let (report, recorder) = try run("fixture/pass", bootTimeout: 1)
            let record = try record(report, "fixture/pass")
            #expect(record.outcome == .infraError)
            #expect(record.message?.contains("did not start") == true)
            #expect(recorder.notes.filter { $0.contains("booting once more") }.count == 1)
            #expect(report.phases["boot", default: 0] >= 2, "both boots count as boot time")
        }

        @Test func aKernelPanicIsAKernelCrashPinnedOnItsTest() throws {
            let (report, _) = try run("fixture/crash,fixture/pass")
            let crash = try record(report, "fixture/crash")
            #expect(crash.outcome == .kernelCrash)
            #expect(crash.splats.contains { $0.kind.isCrash && $0.test == "fixture/crash" })
            // The panic line is said once: by its splat, not again by the message.
            let panic = try #require(crash.splats.first(where: \.kind.isCrash)?.title)
            let detail = TerminalReport.line(for: crash, color: false)
            #expect(detail.components(separatedBy: panic).count == 2, "\(detail)")
            #expect(
                try record(report, "fixture/pass").outcome == .pass,
                "the next test ran in a new boot")
        }
    }

}

/// The PIDs of QEMU processes whose command line mentions `path` (a run's
/// artifacts directory: other runs on the machine are not ours to judge).
func qemuProcesses(using path: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { pid in
        guard Int(pid) != nil,
            let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return false }
        let text = String(decoding: cmd, as: UTF8.self)
        return text.hasPrefix("qemu-system") || text.contains("/qemu-system")
            ? text.contains(path) : false
    }
}

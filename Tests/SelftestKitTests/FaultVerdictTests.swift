import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The guest out of memory, the run's bound spent, a crash, QEMU killed:
/// each gets its own outcome and evidence, from real captured consoles.
@Suite(.tags(.unit)) struct FaultVerdictTests {
    static let largeTests = [
        "memory/large/published", "memory/large/hash", "memory/large/array",
        "memory/large/storage",
    ]

    static func boot(
        console: String, ktap: String, end: GuestBoot.End = .exited(0)
    ) throws -> GuestBoot.Result {
        GuestBoot.Result(
            end: end,
            output: BootTracker(
                ktap: try ParserFixture.text("ktap/\(ktap)"),
                console: try ParserFixture.text("console/\(console)")),
            bootSeconds: 5, teardownSeconds: 0)
    }

    @Test func theOOMKillerIsParsedIntoOneSplatPerKillPinnedOnItsTest() throws {
        let log = ConsoleLog.parse(try ParserFixture.text("console/oom-killed-agent-6.12.log"))
        #expect(log.splats.map(\.kind) == Array(repeating: .outOfMemory, count: 5))
        #expect(log.splats.allSatisfy { $0.test == "memory/large/storage" })
        #expect(!log.panicked)
        let first = try #require(log.splats.first)
        #expect(first.title.hasPrefix("Out of memory: Killed process 145 (selftests-guest) "))
        #expect(
            first.lines.first
                == "selftests-guest invoked oom-killer: gfp_mask=0x40cc0(GFP_KERNEL|__GFP_COMP), "
                + "order=0, oom_score_adj=0")
        #expect(first.lines.count == 3, "trigger, constraint, kill; not the dumps")
        #expect(first.lines[1].hasPrefix("oom-kill:constraint=CONSTRAINT_NONE"))
        #expect(log.splats[2].lines.first?.hasPrefix("init invoked oom-killer") == true)
    }

    @Test func anAgentTheOOMKillerKilledIsOutOfMemoryWithTheFix() throws {
        var boot = try Self.boot(
            console: "oom-killed-agent-6.12.log", ktap: "agent-oom-killed.ktap")
        boot.runningSeconds = 6.7
        let verdicts = BootVerdicts(memoryMiB: 256, runTimeout: 1800)
            .verdicts(for: Self.largeTests, boot: boot)
        #expect(verdicts.records.map(\.name) == Self.largeTests)
        #expect(verdicts.records.map(\.outcome) == [.pass, .pass, .pass, .outOfMemory])
        let storage = try #require(verdicts.records.last)
        #expect(storage.duration == 6.7, "the host's time for it counts")
        #expect(storage.splats.count == 5)
        #expect(storage.splats.allSatisfy { $0.kind == .outOfMemory })
        let message = try #require(storage.message)
        #expect(message.contains("Out of memory: Killed process 145 (selftests-guest)"))
        #expect(message.contains("--memory 256, e.g. --memory 512"))
        #expect(verdicts.unattributed.isEmpty)
    }

    @Test func outOfMemoryFailsTheRunAndReachesEveryReport() throws {
        let boot = try Self.boot(
            console: "oom-killed-agent-6.12.log", ktap: "agent-oom-killed.ktap")
        let records = BootVerdicts(memoryMiB: 256).verdicts(for: Self.largeTests, boot: boot)
            .records
        let report = RunReport(
            kernel: "debian", accelerator: .tcg, startedAt: "2026-12-02T15:33:41Z",
            records: records)
        #expect(report.exitCode == 1)
        #expect(RunOutcome.ran(report).bisectExitCode == 1)

        let summary = try JSONReport.summary(from: JSONReport.data(for: report))
        #expect(summary.counts["out-of-memory"] == 1)
        #expect(try JSONReport.report(from: JSONReport.data(for: report)) == report)

        let xml = try ParsedXML(JUnitReport.xml(for: report))
        let error = try #require(
            try xml.element("//testcase[@name='large/storage']/error"))
        #expect(error[attribute: "type"] == "out-of-memory")
        #expect(error.stringValue?.contains("selftests-guest invoked oom-killer") == true)

        let line = TerminalReport.line(for: records[3], color: false)
        #expect(line.hasPrefix("OOM     memory/large/storage"))
        #expect(line.contains("fix: give the guest more than --memory 256"))
    }

    @Test func aPanicLineIsSaidOnceInACrashDetail() throws {
        let boot = try Self.boot(
            console: "agent-devkmsg-on-6.12.log", ktap: "agent-crash-truncated.ktap")
        let verdicts = BootVerdicts(memoryMiB: 1024).verdicts(for: ["fixture/crash"], boot: boot)
        let crash = try #require(verdicts.records.first { $0.name == "fixture/crash" })
        #expect(crash.outcome == .kernelCrash)
        let title = try #require(crash.splats.first(where: \.kind.isCrash)?.title)
        #expect(title.hasPrefix("Kernel panic - not syncing"))
        let terminal = TerminalReport.line(for: crash, color: false)
        #expect(terminal.components(separatedBy: title).count == 2, "\(terminal)")
        let junit = try #require(JUnitReport.result(for: crash)?.text)
        #expect(junit.components(separatedBy: title).count == 2, "\(junit)")
    }

    @Test func testsTheRunBoundLeftNoTimeForAreNotRunWithTheReason() throws {
        // The bound ran out before the agent's first line: nothing ran.
        let boot = GuestBoot.Result(
            end: .runTimeout(30), output: BootTracker(ktap: "", console: ""), bootSeconds: 30,
            teardownSeconds: 0)
        let judge = BootVerdicts(memoryMiB: 1024, runTimeout: 30)
        let records = judge.verdicts(for: ["fixture/pass", "fixture/fail"], boot: boot).records
        #expect(records.map(\.outcome) == [.notRun, .notRun])
        #expect(records.allSatisfy { $0.message?.contains("--run-timeout 30") == true })

        let report = RunReport(
            kernel: "k", accelerator: .tcg, startedAt: "2026-12-02T15:00:00Z", records: records)
        #expect(report.exitCode == 1)
        #expect(RunOutcome.ran(report).bisectExitCode == 128, "no verdict: bisect must abort")
        let xml = try ParsedXML(JUnitReport.xml(for: report))
        let error = try #require(try xml.element("//testcase[@name='pass']/error"))
        #expect(error[attribute: "type"] == "not-run")
        #expect(
            TerminalReport.line(for: records[0], color: false).hasPrefix("NOT RUN fixture/pass"))
    }

    @Test(arguments: [
        (Int32(137), "was killed by SIGKILL (signal 9)"),
        (134, "was killed by SIGABRT (signal 6)"),
        (143, "was killed by SIGTERM (signal 15)"),
        (1, "exited with status 1"),
    ])
    func qemuEndedByASignalSaysWhichSignal(status: Int32, said: String) {
        #expect(QemuExit.describe(status) == said)
        #expect(BootVerdicts.describe(.exited(status)) == "QEMU " + said)
    }

    /// QEMU's stderr from `--accel kvm` on this build machine (its KVM fails
    /// every guest), copied from a run's `console.log.qemu-stderr`.
    static let kvmStderr = """
        qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69
        qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.

        """

    @Test func qemusStderrNamesWhyKVMCannotRunTheGuest() {
        #expect(
            QemuExit.kvmFailure(in: Self.kvmStderr)?.hasSuffix(
                "kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.") == true)
        #expect(QemuExit.kvmInternalError(in: Self.kvmStderr) == nil, "QEMU exits; no wait")
        #expect(QemuExit.kvmFailure(in: "qemu-system-x86_64: -m 99999: cannot allocate") == nil)
    }
}

import SelftestKit
import SelftestTestSupport
import Testing

@Suite(.tags(.unit)) struct ConsoleLogTests {
    static func log(_ name: String) throws -> ConsoleLog {
        ConsoleLog.parse(try ParserFixture.text("console/\(name)"))
    }

    @Test func cleanBootOfTheDebianCloudKernelHasNoSplats() throws {
        let log = try Self.log("boot-clean-6.12.log")
        #expect(log.splats.isEmpty)
        #expect(log.kernelRelease == "6.12.117+deb12-cloud-amd64")
        #expect(!log.panicked)
        #expect(log.markers.isEmpty)
    }

    /// Every fixture: which reports it holds, in order, and which test each is pinned on.
    @Test(arguments: [
        ("boot-clean-6.12.log", [Splat.Kind](), [String?]()),
        (
            "freeze-hang-sysrq-panic-6.12.log", [.hungTask, .panic],
            ["fs/freeze_hang", "crash/sysrq"]
        ),
        (
            "host-stall-6.12.log", [.rcuStall, .softLockup],
            ["sched/host_stall", "sched/host_stall"]
        ),
        ("agent-devkmsg-on-6.12.log", [.warning, .panic], ["fixture/warn", "fixture/crash"]),
        ("agent-devkmsg-ratelimited-6.12.log", [.warning], [nil]),
        ("warn-bug-oops-6.12.log", [.warning, .oops], ["splat/warn", "splat/bug"]),
        ("null-deref-oops-6.12.log", [.oops], ["splat/null"]),
        ("gpf-oops-6.12.log", [.oops], ["splat/gpf"]),
        ("null-deref-oops-panic-6.12.log", [.oops], ["splat/null_panic"]),
        ("lockdep-kasan-6.12.log", [.lockdep, .kasan], ["splat/lockdep", "splat/kasan"]),
    ])
    func splatsPerFixture(file: String, kinds: [Splat.Kind], tests: [String?]) throws {
        let log = try Self.log(file)
        #expect(log.splats.map(\.kind) == kinds)
        #expect(log.splats.map(\.test) == tests)
        #expect(log.panicked == kinds.contains { $0.isCrash })
        #expect(log.splats.allSatisfy { $0.lines.count <= ConsoleLog.maxLines })
    }

    /// Real reports from a bpf-minimal + debug + kasan build: lockdep's
    /// and KASAN's own blank lines and rulers stay inside each report, and
    /// each ends where the kernel ends it.
    @Test func lockdepAndKASANReportsAreWholeAndPinnedOnTheirTests() throws {
        let log = try Self.log("lockdep-kasan-6.12.log")
        #expect(!log.panicked)
        let lockdep = try #require(log.splats.first)
        #expect(lockdep.title == "WARNING: possible circular locking dependency detected")
        #expect(lockdep.lines.contains { $0.contains("(splat_a){+.+.}-{3:3}, at: ") })
        #expect(lockdep.lines.contains("the existing dependency chain (in reverse order) is:"))
        #expect(lockdep.lines.contains(" print_circular_bug+0x5a8/0x9a0"))
        #expect(lockdep.lines.last == " </TASK>")
        let kasan = try #require(log.splats.last)
        #expect(kasan.title == "BUG: KASAN: slab-use-after-free in splat_use_after_free+0xe0/0x100")
        #expect(kasan.lines.contains("Read of size 1 at addr ffff888000b57c88 by task init/1"))
        #expect(kasan.lines.contains { $0.hasPrefix(">ffff888000b57c80: fa fb") })
        #expect(kasan.lines.contains(" splat_write+0xaa/0xe0"))
        // The report ends at its closing ruler: the module's next line is not in it.
        #expect(!kasan.lines.contains { $0.contains("read 1 after free") })
    }

    /// Without the markers between them (rate-limited, or a report outside
    /// any test), the lockdep report still ends at its stack dump's
    /// `</TASK>`, and the KASAN report keeps its opening ruler.
    @Test func aLockdepReportEndsAtItsStackDumpWithoutAMarker() throws {
        let text = try ParserFixture.text("console/lockdep-kasan-6.12.log")
            // QEMU's serial log ends lines with CRLF, one Character in Swift.
            .split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .filter { !$0.contains("selftests: end splat/lockdep") }
            .filter { !$0.contains("selftests: start splat/kasan") }
            .joined(separator: "\n")
        let log = ConsoleLog.parse(text)
        #expect(log.splats.map(\.kind) == [.lockdep, .kasan])
        #expect(log.splats.map(\.test) == ["splat/lockdep", "splat/lockdep"])
        #expect(log.splats.first?.lines.last == " </TASK>")
        #expect(log.splats.last?.lines.first?.allSatisfy { $0 == "=" } == true)
    }

    @Test func hungTaskAndSysrqPanicAreEachOneSplatWithinTheirMarkers() throws {
        let log = try Self.log("freeze-hang-sysrq-panic-6.12.log")
        #expect(log.markers.map(\.kind) == [.start, .end, .start, .end, .start])
        #expect(
            log.markers.map(\.test) == [
                "maps/basic", "maps/basic", "fs/freeze_hang", "fs/freeze_hang", "crash/sysrq",
            ])
        let hung = log.splats[0]
        #expect(hung.title == "INFO: task sh:150 blocked for more than 2 seconds.")
        #expect(hung.lines.contains { $0.hasPrefix("task:sh ") && $0.contains("state:D") })
        #expect(hung.lines.contains(" mnt_want_write+0x8f/0xc0"))
        #expect(hung.lines.last == " </TASK>")
        let panic = log.splats[1]
        #expect(panic.title == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(panic.lines.first == "sysrq: Trigger a crash")
        #expect(panic.lines.contains(" sysrq_handle_crash+0x1a/0x20"))
        #expect(panic.lines.last?.hasPrefix("Kernel Offset:") == true)
    }

    @Test func interleavedRCUStallKeepsItsOwnLines() throws {
        let log = try Self.log("host-stall-6.12.log")
        let (stall, lockup) = (log.splats[0], log.splats[1])
        #expect(stall.title == "rcu: INFO: rcu_preempt self-detected stall on CPU")
        #expect(
            stall.lines.contains { $0.contains("rcu_preempt kthread starved for 10001 jiffies!") })
        #expect(stall.lines.allSatisfy { $0.hasPrefix("rcu: ") })
        #expect(lockup.title == "watchdog: BUG: soft lockup - CPU#0 stuck for 39s! [true:471]")
        #expect(lockup.lines.contains(" do_brk_flags+0x7e/0x320"))
        #expect(!lockup.lines.contains { $0.hasPrefix("rcu: ") })
    }

    @Test func guestAgentMarkersPinTheWarningAndTheCrash() throws {
        let log = try Self.log("agent-devkmsg-on-6.12.log")
        #expect(log.markers.count == 17)
        #expect(log.markers.filter { $0.kind == .start }.count == 9)
        let warning = log.splats[0]
        #expect(warning.title.hasPrefix("WARNING: CPU: 0 PID: 156 at kernel/bpf/fixture.c:1"))
        #expect(
            warning.lines == [
                "------------[ cut here ]------------", warning.title, "Modules linked in:",
                "---[ end trace 0000000000000000 ]---",
            ])
        #expect(log.splats[1].lines.first == "sysrq: Trigger a crash")
    }

    /// Without `printk.devkmsg=on`, /dev/kmsg drops the agent's later markers.
    @Test func rateLimitedMarkersLeaveTheWarningOutsideAnyTest() throws {
        let log = try Self.log("agent-devkmsg-ratelimited-6.12.log")
        #expect(log.markers.count == 10)
        #expect(log.markers.last?.test == "storage/sk/omem_uncharge_on_close")
        #expect(log.splats.first?.test == nil)
    }

    /// A WARN_ON, then a BUG() whose Oops kills the writing process: two splats,
    /// each pinned on its own test, and the markers after the Oops still read.
    @Test func warningThenBugOopsInOneBootAreTwoSplats() throws {
        let log = try Self.log("warn-bug-oops-6.12.log")
        #expect(
            log.markers.map(\.test) == [
                "splat/warn", "splat/warn", "splat/bug", "splat/bug", "splat/after",
                "splat/after",
            ])
        #expect(log.markers.map(\.kind) == [.start, .end, .start, .end, .start, .end])
        #expect(log.panicked)
        let (warning, bug) = (log.splats[0], log.splats[1])
        #expect(
            warning.title
                == "WARNING: CPU: 0 PID: 1 at /tmp/splatmod/splat.c:33 splat_warn+0x5/0x10 [splat]")
        #expect(warning.lines.first == "------------[ cut here ]------------")
        #expect(warning.lines[2] == "Modules linked in: splat(OE)")
        #expect(warning.lines.contains(" splat_write+0x115/0x140 [splat]"))
        #expect(warning.lines.last == "---[ end trace 0000000000000000 ]---")
        #expect(bug.title == "kernel BUG at /tmp/splatmod/splat.c:43!")
        #expect(
            Array(bug.lines.prefix(3)) == [
                "------------[ cut here ]------------", bug.title,
                "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
            ])
        #expect(bug.lines.contains(" splat_write+0x133/0x140 [splat]"))
        #expect(bug.lines.last == "---[ end trace 0000000000000000 ]---")
        // The registers the kernel prints again after `end trace` are no splat's.
        #expect(bug.lines.filter { $0 == "RIP: 0010:splat_bug+0x5/0x10 [splat]" }.count == 1)
    }

    /// `BUG: kernel NULL pointer dereference` and the `Oops:` after it are one
    /// splat; the writer is killed and the next test runs.
    @Test func nullDerefOopsIsOneSplatAndTheNextTestStillRuns() throws {
        let log = try Self.log("null-deref-oops-6.12.log")
        let splat = try #require(log.splats.first)
        #expect(log.splats.count == 1)
        #expect(splat.title == "BUG: kernel NULL pointer dereference, address: 0000000000000010")
        #expect(splat.test == "splat/null")
        #expect(
            Array(splat.lines.prefix(5)) == [
                splat.title, "#PF: supervisor read access in kernel mode",
                "#PF: error_code(0x0000) - not-present page",
                "PGD 1ff03067 P4D 1ff03067 PUD 1ff5b067 PMD 0 ",
                "Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI",
            ])
        #expect(splat.lines.contains("RIP: 0010:splat_null+0xc/0x20 [splat]"))
        #expect(splat.lines.last == "---[ end trace 0000000000000000 ]---")
        #expect(!splat.lines.contains("Killed"))
        #expect(
            log.markers.map(\.test) == ["splat/null", "splat/null", "splat/after", "splat/after"])
    }

    @Test func generalProtectionFaultOnANonCanonicalAddressIsAnOops() throws {
        let log = try Self.log("gpf-oops-6.12.log")
        let splat = try #require(log.splats.first)
        #expect(log.splats.count == 1)
        #expect(
            splat.title
                == "Oops: general protection fault, probably for non-canonical address "
                + "0xdead000000000110: 0000 [#1] PREEMPT SMP NOPTI")
        #expect(splat.lines.first == splat.title)
        #expect(
            splat.lines.contains(
                "RAX: dead000000000100 RBX: 0000000000000004 RCX: c0000000ffffefff"))
        #expect(splat.lines.contains(" splat_write+0xcb/0x140 [splat]"))
        #expect(splat.lines.last == "---[ end trace 0000000000000000 ]---")
        #expect(splat.test == "splat/gpf")
        #expect(log.markers.count == 4)
    }

    /// With panic_on_oops the `Kernel panic ... Fatal exception` after `end trace`
    /// and the register dump joins the Oops, which stays of kind oops.
    @Test func nullDerefOopsAndItsFatalExceptionPanicAreOneSplat() throws {
        let log = try Self.log("null-deref-oops-panic-6.12.log")
        let splat = try #require(log.splats.first)
        #expect(log.splats.count == 1)
        #expect(splat.title == "BUG: kernel NULL pointer dereference, address: 0000000000000010")
        #expect(splat.test == "splat/null_panic")
        #expect(splat.lines.contains("Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI"))
        #expect(splat.lines.contains("---[ end trace 0000000000000000 ]---"))
        #expect(splat.lines.contains("Kernel panic - not syncing: Fatal exception"))
        #expect(splat.lines.last?.hasPrefix("Kernel Offset: 0x17800000") == true)
        #expect(log.panicked)
    }

    @Test func crlfAndLFGiveTheSameLog() throws {
        let text = try ParserFixture.text("console/freeze-hang-sysrq-panic-6.12.log")
        #expect(text.contains("\r\n"))
        let lf = text.split(separator: "\r\n", omittingEmptySubsequences: false).joined(
            separator: "\n")
        #expect(ConsoleLog.parse(lf) == ConsoleLog.parse(text))
    }

    /// Title lines as captured in this directory's fixtures (see
    /// Fixtures/console/SOURCES.md), each parsed on its own.
    @Test(arguments: [
        (
            "[    4.275952] WARNING: CPU: 0 PID: 1 at /tmp/splatmod/splat.c:33 "
                + "splat_warn+0x5/0x10 [splat]",
            Splat.Kind.warning
        ),
        ("[    4.304870] kernel BUG at /tmp/splatmod/splat.c:43!", .bug),
        ("[    3.764369] BUG: kernel NULL pointer dereference, address: 0000000000000010", .bug),
        ("[    4.305629] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", .oops),
        ("[    3.765243] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI", .oops),
        (
            "[    4.143886] Oops: general protection fault, probably for non-canonical address "
                + "0xdead000000000110: 0000 [#1] PREEMPT SMP NOPTI",
            .oops
        ),
        ("[   46.412201] rcu: INFO: rcu_preempt self-detected stall on CPU", .rcuStall),
        (
            "[   46.415235] watchdog: BUG: soft lockup - CPU#0 stuck for 39s! [true:471]",
            .softLockup
        ),
        ("[   11.506552] INFO: task sh:150 blocked for more than 2 seconds.", .hungTask),
        ("[   12.699288] Kernel panic - not syncing: sysrq triggered crash", .panic),
        ("[    2.630235] Kernel panic - not syncing: Fatal exception", .panic),
    ])
    func capturedTitleLines(line: String, kind: Splat.Kind) throws {
        let log = ConsoleLog.parse(line + "\n")
        let splat = try #require(log.splats.first)
        #expect(log.splats.count == 1)
        #expect(splat.kind == kind)
        #expect(splat.title == line.replacing(#/^(\[[ 0-9.TC]+\])+ /#, with: ""))
    }
}

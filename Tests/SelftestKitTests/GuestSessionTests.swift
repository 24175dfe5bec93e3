import Foundation
import SelftestCatalog
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// The guest session against a fake QEMU that replays real captured boots:
/// the plan the guest is given, the records shown live, and the verdicts
/// at the end are those the captured KTAP and console give on their own.
@Suite(.tags(.unit)) struct GuestSessionTests {
    /// A session in a scratch directory, booting `boots` through a fake
    /// QEMU on a fake clock.
    struct Bench {
        let directory: URL
        let qemu: FakeQemu
        var session: GuestSession

        init(_ boots: [FakeQemu.Boot]) throws {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-session-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true)
            let base = directory.appendingPathComponent("base.cpio")
            var empty = CPIOWriter()
            try empty.finish().write(to: base)
            qemu = FakeQemu(boots)
            let clock = FakeClock()
            session = GuestSession(
                toolchain: Toolchain(
                    qemu: "qemu-system-x86_64", clang: "clang", clangVersion: "",
                    bpftool: "bpftool", busybox: "busybox", libbpfIncludeDirectory: ""),
                kernel: try Self.kernel(in: directory),
                image: GuestImage(base: base, cached: true), accelerator: .tcg,
                runDirectory: directory, runDeadline: clock.now().addingTimeInterval(1800),
                runTimeout: 1800,
                host: HostContext(runner: NoCommands(), spawner: qemu, clock: clock))
        }

        /// The captured head of a bpf-minimal bzImage, its payload size
        /// zeroed and its setup padded: a whole image as far as the header says.
        static func kernel(in directory: URL) throws -> KernelImage {
            let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            var head = try Data(
                contentsOf: root.appendingPathComponent("kernel/bpf-minimal-bzImage.head"))
            head.replaceSubrange(0x1f4..<0x1f8, with: [0, 0, 0, 0])
            let setup = (Int(head[0x1f1]) + 1) * 512
            head.append(Data(count: max(0, setup - head.count)))
            let url = directory.appendingPathComponent("bzImage")
            try head.write(to: url)
            return try KernelImage(path: url.path)
        }

        /// Runs `tests`; the records shown live and the outcome.
        func run(_ tests: [TestSpec]) throws -> (live: [TestRecord], outcome: GuestSession.Outcome)
        {
            var live: [TestRecord] = []
            let outcome = try session.run(tests) { live.append($0) }
            return (live, outcome)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    static func specs(_ names: [String]) throws -> [TestSpec] {
        try names.map { name in try #require(Catalog.all.first { $0.name == name }, "\(name)") }
    }

    /// What the captured pair says on its own, for a boot that ended `end`:
    /// the verdicts the real run gave.
    static func captured(
        ktap: String, console: String, end: GuestBoot.End, planned: [String], memoryMiB: Int = 1024
    ) -> BootVerdicts.Verdicts {
        let boot = GuestBoot.Result(
            end: end, output: BootTracker(ktap: ktap, console: console), bootSeconds: 0,
            teardownSeconds: 0)
        return BootVerdicts(memoryMiB: memoryMiB, runTimeout: 1800)
            .verdicts(for: planned, boot: boot)
    }

    /// The host's time for the test cut off is the only field the captured
    /// output cannot know.
    static func withoutRunningTime(_ records: [TestRecord], running: String?) -> [TestRecord] {
        records.map { record in
            var record = record
            if record.name == running { record.duration = nil }
            return record
        }
    }

    @Test(arguments: [
        // The agent ran its plan and said done; QEMU powered off.
        ("agent-fixtures-done.ktap", "agent-devkmsg-ratelimited-6.12.log", 1024),
        // fixture/crash panicked the kernel; QEMU exited (-no-reboot).
        ("agent-crash-truncated.ktap", "agent-devkmsg-on-6.12.log", 1024),
        // The OOM killer killed the agent during memory/large/storage.
        ("agent-oom-killed.ktap", "oom-killed-agent-6.12.log", 256),
    ])
    func aReplayedBootGivesTheCapturedVerdicts(ktapName: String, consoleName: String, memory: Int)
        throws
    {
        let ktap = try ParserFixture.text("ktap/\(ktapName)")
        let console = try ParserFixture.text("console/\(consoleName)")
        let names = KTAPParser.parse(ktap).startedTests
        var bench = try Bench([FakeQemu.Boot(ktap: ktap, console: console)])
        defer { bench.remove() }
        bench.session.memoryMiB = memory
        let (live, outcome) = try bench.run(try Self.specs(names))

        let done = KTAPParser.parse(ktap).done
        let expected = Self.captured(
            ktap: ktap, console: console, end: done ? .completed : .exited(0), planned: names,
            memoryMiB: memory)
        let running = BootTracker(ktap: ktap, console: console).running
        #expect(outcome.boots == 1)
        #expect(outcome.records.map(\.name) == names)
        #expect(Self.withoutRunningTime(outcome.records, running: running) == expected.records)
        #expect(outcome.unattributedSplats == expected.unattributed)
        #expect(outcome.kernelRelease == expected.kernelRelease)
        #expect(live == outcome.records, "each record shown once, live or at the boot's end")

        let started = bench.qemu.started.withLock { $0 }
        let plan = Data(PlannedTest.plan(try Self.specs(names)).utf8)
        #expect(started.count == 1)
        #expect(started.first?.initrd.firstRange(of: plan) != nil, "the guest got the plan")
    }

    /// A kernel with a PVH entry boots from its vmlinux, the rest from the image.
    @Test func aPVHVmlinuxIsWhatQEMUBoots() throws {
        let ktap = try ParserFixture.text("ktap/agent-fixtures-done.ktap")
        let console = try ParserFixture.text("console/agent-devkmsg-ratelimited-6.12.log")
        let names = KTAPParser.parse(ktap).startedTests
        var bench = try Bench([
            FakeQemu.Boot(ktap: ktap, console: console),
            FakeQemu.Boot(ktap: ktap, console: console),
        ])
        defer { bench.remove() }
        _ = try bench.run(try Self.specs(names))
        bench.session.bootVmlinux = URL(fileURLWithPath: "/cache/pvh/abc/vmlinux")
        _ = try bench.run(try Self.specs(names))
        let kernels = bench.qemu.started.withLock { $0 }.map { boot in
            boot.command.arguments.firstIndex(of: "-kernel").map { boot.command.arguments[$0 + 1] }
        }
        #expect(kernels == [bench.session.kernel.path, "/cache/pvh/abc/vmlinux"])
    }

    @Test func theCapturedCrashAndOOMRunsSayWhatTheRealRunsSaid() throws {
        let crash = try ParserFixture.text("ktap/agent-crash-truncated.ktap")
        let crashBench = try Bench([
            FakeQemu.Boot(
                ktap: crash, console: try ParserFixture.text("console/agent-devkmsg-on-6.12.log"))
        ])
        defer { crashBench.remove() }
        let crashed = try crashBench.run(try Self.specs(KTAPParser.parse(crash).startedTests))
            .outcome
        #expect(
            crashed.records.map(\.outcome) == [
                .pass, .fail, .skip, .pass, .pass, .pass, .timeout, .splat, .kernelCrash,
            ])

        let oom = try ParserFixture.text("ktap/agent-oom-killed.ktap")
        var oomBench = try Bench([
            FakeQemu.Boot(
                ktap: oom, console: try ParserFixture.text("console/oom-killed-agent-6.12.log"))
        ])
        defer { oomBench.remove() }
        oomBench.session.memoryMiB = 256
        let killed = try oomBench.run(try Self.specs(FaultVerdictTests.largeTests)).outcome
        #expect(killed.records.map(\.outcome) == [.pass, .pass, .pass, .outOfMemory])
        #expect(killed.records.last?.message?.contains("--memory 256, e.g. --memory 512") == true)
    }

    /// A guest stuck in a test: the host's watchdog stops QEMU a grace past
    /// the test's bound (on the fake clock), the test is a timeout, and the
    /// tests after it run in a fresh boot.
    @Test func aStuckGuestIsStoppedByTheWatchdogAndTheRestRunInANewBoot() throws {
        let ktap = try ParserFixture.text("ktap/agent-crash-truncated.ktap")
        let console = try ParserFixture.text("console/agent-devkmsg-on-6.12.log")
        // What the guest had written when fixture/hang started, cut there.
        let ktapEnd = try #require(ktap.range(of: "# start fixture/hang\n")).upperBound
        let consoleEnd = try #require(console.range(of: "selftests: start fixture/hang\r\n"))
        let ktapCut = String(ktap[..<ktapEnd])
        let consoleCut = String(console[..<consoleEnd.upperBound])
        let after = """
            KTAP version 1
            1..1
            # start fixture/warn
            # duration_ms: 8
            ok 1 fixture/warn
            # selftests: done

            """
        var bench = try Bench([
            FakeQemu.Boot(ktap: ktapCut, console: consoleCut, exits: nil),
            FakeQemu.Boot(
                ktap: after, console: try ParserFixture.text("console/boot-clean-6.12.log")),
        ])
        defer { bench.remove() }
        bench.session.grace = 15
        let names = KTAPParser.parse(ktapCut).startedTests
        #expect(names.last == "fixture/hang")
        let (live, outcome) = try bench.run(try Self.specs(names + ["fixture/warn"]))

        #expect(outcome.boots == 2)
        #expect(outcome.records.map(\.name) == names + ["fixture/warn"])
        let hang = try #require(outcome.records.first { $0.name == "fixture/hang" })
        #expect(hang.outcome == .timeout)
        #expect(
            hang.message?.hasPrefix("no result within 18 s: the guest stopped responding") == true)
        #expect((hang.duration ?? 0) > 18, "the host's time for it, from its start to the stop")
        #expect(outcome.records.last?.outcome == .pass, "fixture/warn, in the second boot")
        #expect(live == outcome.records)
        let second = try #require(bench.qemu.started.withLock { $0 }.last)
        let rest = Data(PlannedTest.plan(try Self.specs(["fixture/warn"])).utf8)
        #expect(second.initrd.firstRange(of: rest) != nil, "the second boot ran only the rest")
    }
}

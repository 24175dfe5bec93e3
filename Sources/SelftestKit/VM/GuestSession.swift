import Foundation
import SelftestCatalog

/// Runs a list of tests in the guest, booting as often as needed: a test
/// that crashes or hangs the kernel gets its verdict, and the tests after it
/// run in a fresh boot.
public struct GuestSession {
    public var toolchain: Toolchain
    public var kernel: KernelImage
    public var image: GuestImage
    public var accelerator: Accelerator
    /// Where each boot's console log and KTAP stream are kept.
    public var runDirectory: URL
    public var bootTimeout: Double = 60
    /// Extra time the host allows beyond a test's own bound before it decides
    /// the guest is stuck (the agent enforces the bound itself first).
    public var grace: Double = 15
    public var runDeadline: Date
    public var memoryMiB = 1024
    public var cpus = 2
    public var tcgThreading: TCGThreading = .single

    /// What the whole session produced.
    public struct Outcome {
        public var records: [TestRecord] = []
        public var unattributedSplats: [Splat] = []
        public var kernelRelease: String?
        public var phases: [String: Double] = [:]
        public var boots = 0
    }

    public func run(
        _ tests: [TestSpec], note: (String) -> Void = { _ in }, progress: (TestRecord) -> Void
    ) throws -> Outcome {
        var outcome = Outcome()
        var retriedBoot = false
        var readConsoleKTAP = false
        var remaining = tests
        let timeouts = Dictionary(
            tests.map { ($0.name, $0.timeoutSeconds) }, uniquingKeysWith: { a, _ in a })
        while !remaining.isEmpty {
            outcome.boots += 1
            let dir = runDirectory.appendingPathComponent("boot-\(outcome.boots)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let initrd = dir.appendingPathComponent("initrd.cpio")
            try image.initrd(
                plan: GuestImage.planArchive(remaining),
                at: initrd)
            defer { try? FileManager.default.removeItem(at: initrd) }

            let boot = GuestBoot(
                qemu: toolchain.qemu,
                configuration: QemuConfiguration(
                    kernel: kernel.path, initrd: initrd.path, accelerator: accelerator,
                    consoleLog: dir.appendingPathComponent("console.log").path,
                    resultsFile: dir.appendingPathComponent("results.ktap").path,
                    memoryMiB: memoryMiB, cpus: cpus, tcgThreading: tcgThreading),
                bounds: .init(boot: bootTimeout, grace: grace, runDeadline: runDeadline),
                timeouts: timeouts)
            var reported = 0
            let consolePath = boot.configuration.consoleLog
            let result = try boot.run { document in
                // The agent writes a test's end marker to the console before
                // its KTAP result, so the console already holds its splats.
                let console = ConsoleLog.parse(GuestBoot.read(consolePath))
                let records = RecordBuilder.pin(
                    console.splats, on: RecordBuilder.records(from: document)
                ).records
                for record in records.dropFirst(reported) { progress(record) }
                reported = records.count
            }
            outcome.phases["boot", default: 0] += result.bootSeconds
            outcome.phases["tests", default: 0] += result.testSeconds ?? 0
            outcome.phases["teardown", default: 0] += result.teardownSeconds

            // A boot that dies before the agent starts is retried once: under
            // TCG a boot can crash by chance (seen: an int3 oops in
            // sched_clock_cpu). A kernel that really cannot boot fails twice.
            if !KTAPParser.parse(result.ktap).hasVersionLine && !retriedBoot {
                retriedBoot = true
                note(
                    "the guest did not reach the agent (\(Self.describe(result.end))); "
                        + "booting once more (console: \(dir.path)/console.log)")
                continue
            }
            if result.ktapFromConsole && !readConsoleKTAP {
                readConsoleKTAP = true
                note(
                    "the guest has no results port (virtio-console not built in?); reading KTAP from the console"
                )
            }
            let verdicts = Self.verdicts(for: remaining, boot: result)
            outcome.kernelRelease = outcome.kernelRelease ?? verdicts.kernelRelease
            outcome.unattributedSplats += verdicts.unattributed
            // Results already shown live keep their lines; the verdicts only
            // the end of a boot decides (crash, timeout, boot failure) are new.
            for record in verdicts.records.dropFirst(reported) { progress(record) }
            outcome.records += verdicts.records
            let decided = Set(verdicts.records.map(\.name))
            let next = remaining.filter { !decided.contains($0.name) }
            if next.count == remaining.count { break }
            remaining = next
        }
        return outcome
    }

    /// Turns one boot's output into records for the tests it decided.
    static func verdicts(for planned: [TestSpec], boot: GuestBoot.Result)
        -> (records: [TestRecord], unattributed: [Splat], kernelRelease: String?)
    {
        let document = KTAPParser.parse(boot.ktap)
        let console = ConsoleLog.parse(boot.console)
        var records = RecordBuilder.records(from: document)
        let finished = Set(records.map(\.name))
        let crash = console.splats.first { $0.kind.isCrash }

        if !document.hasVersionLine {
            // The agent never started: nothing ran, so every test gets the
            // boot's verdict.
            let record: (String) -> TestRecord = { name in
                if let crash {
                    return TestRecord(
                        name: name, outcome: .kernelCrash,
                        message: "the kernel crashed before any test ran: \(crash.title)",
                        splats: [crash])
                }
                return TestRecord(
                    name: name, outcome: .infraError,
                    message:
                        "the guest agent did not start (\(describe(boot.end))); console tail:\n"
                        + boot.console.split(separator: "\n").suffix(15).joined(separator: "\n"))
            }
            return (planned.map { record($0.name) }, [], console.kernelRelease)
        }

        if let running = document.startedTests.last(where: { !finished.contains($0) }) {
            records.append(verdictForRunning(running, end: boot.end, crash: crash))
        }
        let pinned = RecordBuilder.pin(console.splats, on: records)
        return (pinned.records, pinned.unattributed, console.kernelRelease)
    }

    static func verdictForRunning(_ name: String, end: GuestBoot.End, crash: Splat?) -> TestRecord {
        if let crash {
            return TestRecord(name: name, outcome: .kernelCrash, message: crash.title)
        }
        switch end {
        case .testTimeout(_, let bound):
            return TestRecord(
                name: name, outcome: .timeout,
                message: "no result within \(Int(bound)) s: the guest stopped responding and the "
                    + "host watchdog stopped the VM")
        case .runTimeout(let seconds):
            return TestRecord(
                name: name, outcome: .timeout,
                message: "the whole-run bound ran out after \(Int(seconds)) s during this test")
        default:
            return TestRecord(
                name: name, outcome: .infraError,
                message:
                    "the guest stopped during this test (\(describe(end))) with no kernel crash in the console"
            )
        }
    }

    static func describe(_ end: GuestBoot.End) -> String {
        switch end {
        case .completed: "the agent finished"
        case .exited(let status): "QEMU exited with status \(status)"
        case .bootTimeout(let s): "no output from the agent within \(Int(s)) s of boot"
        case .testTimeout(let name, let s): "\(name) ran past \(Int(s)) s"
        case .runTimeout(let s): "the run bound ran out after \(Int(s)) s"
        }
    }
}

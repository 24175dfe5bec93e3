import Foundation

/// Turns one boot's output into verdicts for the tests it decided: what
/// the KTAP stream says, and for the test running when the guest stopped,
/// what the console and the way the boot ended say.
struct BootVerdicts {
    /// The guest's memory, for the fix an out-of-memory verdict gives.
    var memoryMiB: Int
    /// The run's bound in seconds, for the reason a test did not run.
    var runTimeout: Double?

    struct Verdicts {
        var records: [TestRecord]
        var unattributed: [Splat]
        var kernelRelease: String?
    }

    /// The records of `planned` tests this boot decided, in order.
    func verdicts(for planned: [String], boot: GuestBoot.Result) -> Verdicts {
        let document = boot.output.finishedDocument
        let console = boot.output.consoleLog
        var records = RecordBuilder.records(from: document)

        if !document.hasVersionLine {
            // The agent never started: nothing ran, so every test gets the
            // boot's verdict.
            let records = planned.map { beforeAgent($0, boot: boot, console: console) }
            return Verdicts(
                records: records, unattributed: [], kernelRelease: console.kernelRelease)
        }

        if let running = boot.output.running {
            var record = verdictForRunning(running, end: boot.end, console: console)
            // Its time counts, in JUnit's suite time too, though no result came.
            record.duration = boot.runningSeconds
            records.append(record)
        }
        let pinned = RecordBuilder.pin(console.splats, on: records)
        return Verdicts(
            records: pinned.records, unattributed: pinned.unattributed,
            kernelRelease: console.kernelRelease)
    }

    /// A test's record when the guest stopped before the agent started.
    func beforeAgent(_ name: String, boot: GuestBoot.Result, console: ConsoleLog) -> TestRecord {
        if let crash = console.splats.first(where: \.kind.isCrash) {
            return TestRecord(
                name: name, outcome: .kernelCrash,
                message: "the kernel crashed before any test ran", splats: [crash])
        }
        let kills = console.splats.filter { $0.kind == .outOfMemory }
        if !kills.isEmpty {
            return TestRecord(
                name: name, outcome: .outOfMemory,
                message: outOfMemory("before any test ran", kills), splats: kills)
        }
        if case .runTimeout = boot.end { return notRun(name) }
        return TestRecord(
            name: name, outcome: .infraError,
            message: "the guest agent did not start (\(Self.describe(boot.end))); console tail:\n"
                + boot.output.consoleTail.joined(separator: "\n"))
    }

    /// The record of the test that was running when the boot ended. Its
    /// splats (the crash, the OOM kills) are pinned on it afterwards.
    func verdictForRunning(_ name: String, end: GuestBoot.End, console: ConsoleLog) -> TestRecord {
        if let crash = console.splats.first(where: \.kind.isCrash) {
            // The splat carries the panic line; the message does not repeat it.
            return TestRecord(
                name: name, outcome: .kernelCrash, message: "the kernel crashed during this test",
                splats: crash.test == name ? [] : [crash])
        }
        // OOM kills while it ran, or after the agent's markers stopped.
        let kills = console.splats.filter {
            $0.kind == .outOfMemory && ($0.test == name || $0.test == nil)
        }
        if !kills.isEmpty {
            return TestRecord(
                name: name, outcome: .outOfMemory, message: outOfMemory("during this test", kills))
        }
        switch end {
        case .testTimeout(_, let bound):
            return TestRecord(
                name: name, outcome: .timeout,
                message: "no result within \(Int(bound)) s: the guest stopped responding and the "
                    + "host watchdog stopped the VM")
        case .runTimeout(let seconds):
            var record = TestRecord(
                name: name, outcome: .timeout,
                message: "the whole-run bound ran out after \(Int(seconds)) s during this test")
            record.cutByRunBound = true
            return record
        default:
            return TestRecord(
                name: name, outcome: .infraError,
                message:
                    "the guest stopped during this test (\(Self.describe(end))) with no kernel crash in the console"
            )
        }
    }

    /// A test a boot was to run that ended, its agent started, before
    /// this test or any other began.
    func unstarted(_ name: String, end: GuestBoot.End) -> TestRecord {
        if case .runTimeout = end { return notRun(name) }
        return TestRecord(
            name: name, outcome: .infraError,
            message: "the guest stopped (\(Self.describe(end))) before this test started")
    }

    /// A test the run's bound left no time for.
    func notRun(_ name: String) -> TestRecord {
        let bound = runTimeout.map { " (--run-timeout \(Int($0)))" } ?? ""
        return TestRecord(
            name: name, outcome: .notRun,
            message: "not run: the run's time bound\(bound) was spent before this test started")
    }

    /// What the OOM killer did, and the fix: more memory than this guest had.
    func outOfMemory(_ when: String, _ kills: [Splat]) -> String {
        let first = kills[0].title
        let victim = first.range(of: " total-vm").map { String(first[..<$0.lowerBound]) } ?? first
        let more = kills.count > 1 ? " (and \(kills.count - 1) more kill(s))" : ""
        return "the guest ran out of memory \(when): \(victim)\(more)\n"
            + "fix: give the guest more than --memory \(memoryMiB), e.g. --memory \(memoryMiB * 2)"
    }

    static func describe(_ end: GuestBoot.End) -> String {
        switch end {
        case .completed: "the agent finished"
        case .exited(let status): "QEMU \(QemuExit.describe(status))"
        case .bootTimeout(let s): "no output from the agent within \(Int(s)) s of boot"
        case .testTimeout(let name, let s): "\(name) ran past \(Int(s)) s"
        case .runTimeout(let s): "the run bound ran out after \(Int(s)) s"
        case .acceleratorFailed(let line): "KVM could not run the guest: \(line)"
        }
    }
}

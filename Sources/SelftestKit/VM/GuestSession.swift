import Foundation
import SelftestCatalog

/// Runs a list of tests in the guest, booting as often as needed: a test
/// that crashes or hangs the kernel gets its verdict, and the tests after it
/// run in a fresh boot.
public struct GuestSession: Sendable {
    public var toolchain: Toolchain
    public var kernel: KernelImage
    /// The vmlinux QEMU boots through the kernel's PVH entry, when it has
    /// one (`PVHKernel`); the image otherwise.
    public var bootVmlinux: URL?
    public var image: GuestImage
    public var accelerator: Accelerator
    /// Where each boot's console log and KTAP stream are kept.
    public var runDirectory: URL
    public var bootTimeout: Double = 60
    /// Extra time the host allows beyond a test's own bound before it decides
    /// the guest is stuck (the agent enforces the bound itself first).
    public var grace: Double = 15
    public var runDeadline: Date
    /// The run's bound in seconds (`--run-timeout`), for the reason a test
    /// it left no time for did not run.
    public var runTimeout: Double?
    public var memoryMiB = 1024
    public var cpus = 2
    public var tcgThreading: TCGThreading = .single
    /// Starts QEMU and keeps the time: the real host, or a test's fakes.
    public var host: HostContext = .live
    /// Told QEMU's line when KVM could not run the guest, before the run stops.
    public var kvmFailed: @Sendable (String) -> Void = { _ in }

    /// What the whole session produced.
    public struct Outcome: Sendable {
        public var records: [TestRecord] = []
        public var unattributedSplats: [Splat] = []
        public var kernelRelease: String?
        /// Seconds of the boot, tests and teardown phases, summed over boots.
        public var phases: [RunPhase: Double] = [:]
        public var boots = 0
    }

    /// Runs `tests` with the plan in the image, re-booting for those a
    /// crash or hang left.
    public func run(
        _ tests: [TestSpec], note: (String) -> Void = { _ in }, progress: (TestRecord) -> Void
    ) throws -> Outcome {
        var outcome = Outcome()
        _ = try run(.plan(tests), into: &outcome, note: note, progress: progress)
        return outcome
    }

    /// Runs tests `queue` hands this guest as it frees up, alongside other
    /// guests taking from the same queue (`--jobs`). Re-boots only when its
    /// kernel died with tests still queued. When this guest cannot take
    /// tests (its kernel has no virtio-console, so no queue port) and no
    /// other guest is left, it runs the rest with the plan in its image.
    func run(
        queue: TestQueue, note: (String) -> Void = { _ in }, progress: (TestRecord) -> Void
    ) throws -> Outcome {
        var outcome = Outcome()
        var left: [TestSpec] = []
        do {
            let hasLeft = try run(.queue(queue), into: &outcome, note: note, progress: progress)
            if !hasLeft { left = queue.leave() }
        } catch {
            _ = queue.leave()
            throw error
        }
        if !left.isEmpty {
            note(
                "\(left.count) test(s) no guest took from the queue: running them with the plan in the image"
            )
            _ = try run(.plan(left), into: &outcome, note: note, progress: progress)
        }
        return outcome
    }

    /// Where a session's tests come from.
    private enum Source {
        /// These, in the image's plan; each boot gets those not yet decided.
        case plan([TestSpec])
        /// A queue other guests share, handed over the queue port.
        case queue(TestQueue)
    }

    /// Runs `source`'s tests into `outcome`; true when the guest has left
    /// the queue already (it could not boot, and judged what was left).
    private func run(
        _ source: Source, into outcome: inout Outcome, note: (String) -> Void,
        progress: (TestRecord) -> Void
    ) throws -> Bool {
        var retriedBoot = false
        var readConsoleKTAP = false
        var remaining: [TestSpec]
        let queue: TestQueue?
        switch source {
        case .plan(let tests): (remaining, queue) = (tests, nil)
        case .queue(let shared): (remaining, queue) = ([], shared)
        }
        let timeouts =
            queue?.timeouts
            ?? Dictionary(
                remaining.map { ($0.name, $0.timeoutSeconds) }, uniquingKeysWith: { a, _ in a })
        let judge = BootVerdicts(memoryMiB: memoryMiB, runTimeout: runTimeout)
        // With a queue, a guest boots while tests are queued: once, and
        // again only after a crash or hang (a boot that ran to its end
        // found the queue empty and stops the loop below).
        var hasLeft = false
        while queue.map({ !$0.isEmpty }) ?? !remaining.isEmpty {
            // The bound is spent: no boot for the tests left, each says why.
            if host.clock.now() >= runDeadline {
                let records = (queue?.drain() ?? remaining).map { judge.notRun($0.name) }
                records.forEach(progress)
                outcome.records += records
                break
            }
            outcome.boots += 1
            let dir = runDirectory.appendingPathComponent("boot-\(outcome.boots)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let initrd = dir.appendingPathComponent("initrd.cpio")
            try image.initrd(plan: GuestImage.planArchive(remaining), at: initrd)
            defer { try? FileManager.default.removeItem(at: initrd) }

            let boot = GuestBoot(
                qemu: toolchain.qemu,
                configuration: QemuConfiguration(
                    kernel: bootVmlinux ?? URL(fileURLWithPath: kernel.path), initrd: initrd,
                    accelerator: accelerator,
                    consoleLog: dir.appendingPathComponent("console.log"),
                    resultsFile: dir.appendingPathComponent("results.ktap"),
                    memoryMiB: memoryMiB, cpus: cpus, tcgThreading: tcgThreading,
                    queuePipe: queue.map { _ in dir.appendingPathComponent("queue") }),
                bounds: .init(boot: bootTimeout, grace: grace, runDeadline: runDeadline),
                timeouts: timeouts, host: host, queue: queue)
            let consolePath = boot.configuration.consoleLog.path
            let result = try boot.run(onRecord: progress)
            outcome.phases[.boot, default: 0] += result.bootSeconds
            outcome.phases[.tests, default: 0] += result.testSeconds ?? 0
            outcome.phases[.teardown, default: 0] += result.teardownSeconds
            // What this boot was to run: its plan, or what the queue handed it.
            let planned = queue == nil ? remaining : result.handed

            if case .acceleratorFailed(let line) = result.end {
                queue?.putBack(result.handed)
                kvmFailed(line)
                throw SelftestError(
                    .environment,
                    "KVM cannot run the guest; QEMU says: \(line) (\(consolePath).qemu-stderr)",
                    fix: "use --accel tcg, or --accel auto (it probes KVM and falls back to TCG)",
                    domain: .machine, input: "--accel kvm")
            }
            // A boot that dies before the agent starts is retried once: under
            // TCG a boot can crash by chance (seen: an int3 oops in
            // sched_clock_cpu). A kernel that really cannot boot fails twice.
            // One the run's bound stopped is not: there is no time left.
            let boundSpent = if case .runTimeout = result.end { true } else { false }
            if !result.output.document.hasVersionLine && !retriedBoot && !boundSpent {
                retriedBoot = true
                note(
                    "the guest did not reach the agent (\(BootVerdicts.describe(result.end))); "
                        + "booting once more (console: \(dir.path)/console.log)")
                continue
            }
            if result.output.ktapFromConsole && !readConsoleKTAP {
                readConsoleKTAP = true
                note(
                    queue == nil
                        ? "the guest has no results port (virtio-console not built in?); reading KTAP from the console"
                        : "the guest has no queue port (virtio-console not built in?); it takes no test from the queue"
                )
            }
            // A guest that never reached its agent judges, by its boot, the
            // tests no other guest is left to take.
            let unbooted: [TestSpec]
            if let queue, !result.output.document.hasVersionLine {
                unbooted = queue.leave()
                hasLeft = true
            } else {
                unbooted = []
            }
            let verdicts = judge.verdicts(
                for: (planned + unbooted).map(\.name), boot: result)
            outcome.kernelRelease = outcome.kernelRelease ?? verdicts.kernelRelease
            outcome.unattributedSplats += verdicts.unattributed
            // Results already shown live keep their lines; the verdicts only
            // the end of a boot decides (crash, timeout, boot failure) are new.
            for record in verdicts.records where !result.output.shown.contains(record.name) {
                progress(record)
            }
            outcome.records += verdicts.records
            let decided = Set(verdicts.records.map(\.name))
            let undecided = planned.filter { !decided.contains($0.name) }
            if let queue {
                queue.remove(decided)
                queue.putBack(undecided)
                // Another boot only for tests still queued after a crash or
                // hang that decided something. A finished agent found the
                // queue empty; a guest that could not boot has left it.
                let died = result.end != .completed && result.output.document.hasVersionLine
                if died && !decided.isEmpty { continue }
                break
            }
            if undecided.count == remaining.count {
                // The agent started, yet the boot ended before any test did.
                let records = undecided.map { judge.unstarted($0.name, end: result.end) }
                records.forEach(progress)
                outcome.records += records
                break
            }
            remaining = undecided
        }
        return hasLeft
    }
}

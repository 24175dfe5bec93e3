import Foundation
import SelftestCatalog

/// Runs a list of tests in the guest, booting as often as needed: a test
/// that crashes or hangs the kernel gets its verdict, and the tests after it
/// run in a fresh boot.
public struct GuestSession: Sendable {
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

    public func run(
        _ tests: [TestSpec], note: (String) -> Void = { _ in }, progress: (TestRecord) -> Void
    ) throws -> Outcome {
        var outcome = Outcome()
        var retriedBoot = false
        var readConsoleKTAP = false
        var remaining = tests
        let timeouts = Dictionary(
            tests.map { ($0.name, $0.timeoutSeconds) }, uniquingKeysWith: { a, _ in a })
        let judge = BootVerdicts(memoryMiB: memoryMiB, runTimeout: runTimeout)
        while !remaining.isEmpty {
            // The bound is spent: no boot for the tests left, each says why.
            if host.clock.now() >= runDeadline {
                let records = remaining.map { judge.notRun($0.name) }
                records.forEach(progress)
                outcome.records += records
                break
            }
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
                    kernel: URL(fileURLWithPath: kernel.path), initrd: initrd,
                    accelerator: accelerator,
                    consoleLog: dir.appendingPathComponent("console.log"),
                    resultsFile: dir.appendingPathComponent("results.ktap"),
                    memoryMiB: memoryMiB, cpus: cpus, tcgThreading: tcgThreading),
                bounds: .init(boot: bootTimeout, grace: grace, runDeadline: runDeadline),
                timeouts: timeouts, host: host)
            let consolePath = boot.configuration.consoleLog.path
            let result = try boot.run(onRecord: progress)
            outcome.phases[.boot, default: 0] += result.bootSeconds
            outcome.phases[.tests, default: 0] += result.testSeconds ?? 0
            outcome.phases[.teardown, default: 0] += result.teardownSeconds

            if case .acceleratorFailed(let line) = result.end {
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
                    "the guest has no results port (virtio-console not built in?); reading KTAP from the console"
                )
            }
            let verdicts = judge.verdicts(for: remaining.map(\.name), boot: result)
            outcome.kernelRelease = outcome.kernelRelease ?? verdicts.kernelRelease
            outcome.unattributedSplats += verdicts.unattributed
            // Results already shown live keep their lines; the verdicts only
            // the end of a boot decides (crash, timeout, boot failure) are new.
            for record in verdicts.records where !result.output.shown.contains(record.name) {
                progress(record)
            }
            outcome.records += verdicts.records
            let decided = Set(verdicts.records.map(\.name))
            let next = remaining.filter { !decided.contains($0.name) }
            if next.count == remaining.count { break }
            remaining = next
        }
        return outcome
    }
}

import Foundation
import SelftestCatalog

/// One boot of the guest: start QEMU, follow the results port, stop it when
/// the agent is done, the guest dies, or a bound runs out. QEMU is killed
/// and reaped on every path out of `run`.
struct GuestBoot {
    /// Why the boot ended.
    enum End: Equatable {
        /// The agent wrote `# selftests: done`.
        case completed
        /// QEMU exited by itself (a panic reboots, which `-no-reboot` turns into an exit).
        case exited(Int32)
        /// The agent never started within the boot bound.
        case bootTimeout(Double)
        /// A test ran past its bound plus grace: the guest is stuck.
        case testTimeout(String, Double)
        case runTimeout(Double)
        /// KVM could not run the guest: QEMU's stderr line that says so.
        case acceleratorFailed(String)
    }

    struct Bounds {
        var boot: Double
        var grace: Double
        var runDeadline: Date
    }

    var qemu: String
    var configuration: QemuConfiguration
    var bounds: Bounds
    var timeouts: [String: Int]
    /// Starts QEMU and keeps the time.
    var host: HostContext
    /// The queue this guest takes its tests from, over the port at
    /// `configuration.queuePipe`; nil when the plan is in the image.
    var queue: TestQueue? = nil

    /// What one boot produced.
    struct Result {
        var end: End
        /// The KTAP stream and console, read as they came.
        var output: BootTracker
        /// Seconds from QEMU's start to the agent's first line (all of the
        /// boot's time when the agent never started).
        var bootSeconds: Double
        /// Seconds the agent spent running tests.
        var testSeconds: Double?
        /// Seconds from the agent's last line to QEMU's exit.
        var teardownSeconds: Double
        /// Seconds the test still running when the boot ended had run, as
        /// the host saw it (from its start line to the stop); nil when none.
        var runningSeconds: Double? = nil
        /// The tests the queue handed this boot, in order.
        var handed: [TestSpec] = []
    }

    /// Runs the guest; `onRecord` sees each result as it arrives.
    func run(onRecord: (TestRecord) -> Void) throws -> Result {
        let stderrPath = configuration.consoleLog.path + ".qemu-stderr"
        try Data().write(to: configuration.resultsFile)
        var feed = try configuration.queuePipe.flatMap { pipe in
            try queue.map { try QueueFeed(queue: $0, pipe: pipe) }
        }
        defer { feed?.close() }
        // The exact argv, NUL-separated, beside the console: a benchmark boots
        // its floor image with the very same line (scripts/bench-floor.sh).
        let argv = ([qemu] + configuration.arguments).map { $0 + "\u{0}" }.joined()
        FileManager.default.createFile(
            atPath: configuration.consoleLog.path + ".qemu-argv", contents: Data(argv.utf8))
        let child = try host.spawner.spawn(
            Command(qemu, configuration.arguments), stderr: stderrPath)
        defer { child.kill() }

        let started = host.clock.now()
        var output = BootTracker(
            resultsFile: configuration.resultsFile, consoleLog: configuration.consoleLog)
        var currentTest: (name: String, since: Date)?
        var end: End
        var agentStarted: Date?
        var agentDone: Date?
        while true {
            output.poll()
            output.newRecords().forEach(onRecord)
            let document = output.document
            // Tests are handed once the agent reads its port, as it frees up.
            if output.portStarted { feed?.feed(decided: document.results.count) }
            if output.running != currentTest?.name {
                currentTest = output.running.map { ($0, host.clock.now()) }
            }
            if document.hasVersionLine && agentStarted == nil { agentStarted = host.clock.now() }
            if document.done {
                agentDone = host.clock.now()
                end = .completed
                break
            }
            if let status = child.poll() {
                end = .exited(status)
                break
            }
            // Under KVM, a guest KVM cannot run stops with a line on stderr
            // and QEMU waits: no boot bound need run out to tell.
            if configuration.accelerator == .kvm,
                let failure = QemuExit.kvmInternalError(in: Self.read(stderrPath))
            {
                end = .acceleratorFailed(failure)
                break
            }
            let now = host.clock.now()
            if !document.hasVersionLine, now.timeIntervalSince(started) > bounds.boot {
                end = .bootTimeout(bounds.boot)
                break
            }
            if let test = currentTest {
                let bound =
                    Double(timeouts[test.name] ?? TestSpec.defaultTimeoutSeconds) + bounds.grace
                if now.timeIntervalSince(test.since) > bound {
                    end = .testTimeout(test.name, bound)
                    break
                }
            }
            if now > bounds.runDeadline {
                end = .runTimeout(now.timeIntervalSince(started))
                break
            }
            host.clock.sleep(0.02)
        }
        let stopping = host.clock.now()
        if end == .completed {
            // Let the guest power off by itself so the console log is whole.
            if child.wait(timeout: 10) == nil { child.kill() }
        }
        child.kill()
        // A guest the interrupt's shutdown killed gives no verdict. With
        // several guests, QEMUs slow to take SIGTERM left time for one.
        InterruptHandler.waitIfShuttingDown()
        let stopped = host.clock.now()
        let stderr = Self.read(stderrPath)
        if case .exited(let status) = end, status != 0, !stderr.isEmpty {
            if configuration.accelerator == .kvm, let failure = QemuExit.kvmFailure(in: stderr) {
                end = .acceleratorFailed(failure)
            } else {
                let head = stderr.split(separator: "\n").prefix(5).joined(separator: "\n")
                throw SelftestError(
                    .infrastructure, "qemu \(QemuExit.describe(status)): \(head)",
                    domain: .machine)
            }
        }
        output.finish()
        return Result(
            end: end, output: output,
            bootSeconds: (agentStarted ?? stopping).timeIntervalSince(started),
            testSeconds: agentStarted.map { (agentDone ?? stopping).timeIntervalSince($0) },
            teardownSeconds: stopped.timeIntervalSince(agentDone ?? stopping),
            runningSeconds: currentTest.map { stopping.timeIntervalSince($0.since) },
            handed: feed?.handed ?? [])
    }

    static func read(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

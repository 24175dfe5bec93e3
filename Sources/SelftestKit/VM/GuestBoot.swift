import Foundation

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

    /// What one boot produced.
    struct Result {
        var end: End
        var ktap: String
        /// The guest had no results port; the KTAP came from the console.
        var ktapFromConsole = false
        var console: String
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
    }

    /// Runs the guest; `onProgress` sees the KTAP stream whenever a result arrives.
    func run(onProgress: (KTAPDocument) -> Void) throws -> Result {
        let stderrPath = configuration.consoleLog + ".qemu-stderr"
        FileManager.default.createFile(atPath: configuration.resultsFile, contents: nil)
        // The exact argv, NUL-separated, beside the console: a benchmark boots
        // its floor image with the very same line (scripts/bench-floor.sh).
        let argv = ([qemu] + configuration.arguments).map { $0 + "\u{0}" }.joined()
        FileManager.default.createFile(
            atPath: configuration.consoleLog + ".qemu-argv", contents: Data(argv.utf8))
        let child = try ChildProcess.spawn(
            Command(qemu, configuration.arguments), stderr: stderrPath)
        defer { child.kill() }

        let started = Date()
        var currentTest: (name: String, since: Date)?
        var lastSeen = 0
        var end: End
        var agentStarted: Date?
        var agentDone: Date?
        var document = KTAPDocument()
        var parsedSizes: [Int]?
        var resultsHaveKTAP = false
        while true {
            // Read and parse again only when what `ktap` reads has grown: a
            // guest's stream is read every 20 ms, and with several guests
            // at once the runner's parsing took CPU from their TCG threads.
            let sizes = Self.streamSizes(
                results: configuration.resultsFile, console: configuration.consoleLog,
                resultsHaveKTAP: resultsHaveKTAP)
            if sizes != parsedSizes {
                parsedSizes = sizes
                let results = Self.read(configuration.resultsFile)
                resultsHaveKTAP = results.contains("KTAP version")
                document = KTAPParser.parse(
                    Self.ktap(results: results, console: Self.read(configuration.consoleLog)))
            }
            if document.results.count != lastSeen {
                onProgress(document)
                lastSeen = document.results.count
            }
            let running =
                document.startedTests.count > document.results.count
                ? document.startedTests.last : nil
            if running != currentTest?.name {
                currentTest = running.map { ($0, Date()) }
            }
            if document.hasVersionLine && agentStarted == nil { agentStarted = Date() }
            if document.done {
                agentDone = Date()
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
            let now = Date()
            if !document.hasVersionLine, now.timeIntervalSince(started) > bounds.boot {
                end = .bootTimeout(bounds.boot)
                break
            }
            if let test = currentTest {
                let bound = Double(timeouts[test.name] ?? 30) + bounds.grace
                if now.timeIntervalSince(test.since) > bound {
                    end = .testTimeout(test.name, bound)
                    break
                }
            }
            if now > bounds.runDeadline {
                end = .runTimeout(now.timeIntervalSince(started))
                break
            }
            usleep(20_000)
        }
        let stopping = Date()
        if end == .completed {
            // Let the guest power off by itself so the console log is whole.
            if child.wait(timeout: 10) == nil { child.kill() }
        }
        child.kill()
        // A guest the interrupt's shutdown killed gives no verdict. With
        // several guests, QEMUs slow to take SIGTERM left time for one.
        InterruptHandler.waitIfShuttingDown()
        let stopped = Date()
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
        let results = Self.read(configuration.resultsFile)
        let console = Self.read(configuration.consoleLog)
        let ktap = Self.ktap(results: results, console: console)
        return Result(
            end: end, ktap: ktap, ktapFromConsole: ktap != results,
            console: console,
            bootSeconds: (agentStarted ?? stopping).timeIntervalSince(started),
            testSeconds: agentStarted.map { (agentDone ?? stopping).timeIntervalSince($0) },
            teardownSeconds: stopped.timeIntervalSince(agentDone ?? stopping),
            runningSeconds: currentTest.map { stopping.timeIntervalSince($0.since) })
    }

    /// The KTAP stream: from the results port, or, when the guest has no
    /// such port (a kernel with virtio-console as a module, like Debian's
    /// 6.1 cloud image), from the console, where the agent then writes it.
    /// The console is read only when the port has no KTAP: this runs every
    /// poll, and the console log is the larger file.
    static func ktap(results: String, console: @autoclosure () -> String) -> String {
        if results.contains("KTAP version") { return results }
        let text = console()
        return text.contains("KTAP version") ? text : results
    }

    /// The sizes of the files the KTAP stream comes from: the results
    /// port's, and the console's until the stream is found (a guest without
    /// the port writes it there).
    static func streamSizes(results: String, console: String, resultsHaveKTAP: Bool) -> [Int] {
        func size(_ path: String) -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : -1
        }
        return resultsHaveKTAP ? [size(results)] : [size(results), size(console)]
    }

    static func read(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

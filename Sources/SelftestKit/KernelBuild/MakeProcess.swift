import Foundation

/// Runs the long `make` of a kernel build with its output going to a log
/// file, reading the log as it grows to report progress.
struct MakeProcess {
    var command: Command
    var log: URL
    var timeout: Double
    /// Starts make and keeps the time.
    var host: HostContext = .live
    /// Seconds between reads of the log.
    var poll: Double = 0.25

    /// How it ended and what the output said.
    struct Outcome {
        var status: Int32?
        var output: BuildOutput
        var seconds: Double
        /// User + system CPU seconds of make and everything it ran: what the
        /// build costs on an idle machine, whatever else shared the CPUs.
        var cpuSeconds: Double
        var timedOut: Bool { status == nil }
    }

    /// CPU seconds used so far by this process's reaped children.
    static func childrenCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// make's stdout and stderr interleave in one file as a terminal would
    /// show them: a fixed `sh` line does the `2>&1`; the arguments stay an array.
    static func combined(_ command: Command) -> Command {
        Command(
            "/bin/sh", ["-c", "exec \"$@\" 2>&1", "sh", command.executable] + command.arguments,
            environment: command.environment)
    }

    func run(
        estimate: Int?, parser: BuildOutput, observer: KernelBuildObserver
    ) throws -> Outcome {
        var output = parser
        let started = host.clock.now()
        let cpuBefore = Self.childrenCPU()
        let child = try host.spawner.spawn(Self.combined(command), stdout: log.path)
        // Killing make leaves its compilers to finish their one file each and
        // exit; none outlives the build by more than that.
        defer { child.kill() }
        let reader = try LogReader(path: log.path)
        var status: Int32?
        while true {
            status = child.poll()
            output.consume(reader.readNew())
            let elapsed = host.clock.now().timeIntervalSince(started)
            let now = BuildStatus(
                steps: output.steps, estimate: estimate, current: output.current, elapsed: elapsed)
            if status != nil {
                output.consume(reader.readNew())
                output.finish()
                observer.finished(now)
                break
            }
            if elapsed > timeout {
                child.kill()
                output.finish()
                observer.finished(now)
                break
            }
            observer.progress(now)
            host.clock.sleep(poll)
        }
        child.kill()
        return Outcome(
            status: status, output: output, seconds: host.clock.now().timeIntervalSince(started),
            cpuSeconds: Self.childrenCPU() - cpuBefore)
    }
}

/// Reads what was appended to a file since the last read.
final class LogReader {
    private let handle: FileHandle

    init(path: String) throws {
        // The child creates the file; wait briefly for it to appear.
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { usleep(10_000) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SelftestError(.infrastructure, .runner, "cannot read the build log \(path)")
        }
        self.handle = handle
    }

    deinit { try? handle.close() }

    func readNew() -> Data {
        (try? handle.readToEnd()) ?? Data()
    }
}

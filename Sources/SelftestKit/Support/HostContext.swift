import Foundation

/// What a run takes from the host: how it runs commands, how it starts the
/// long children it follows (QEMU, make), and the time. Passed down from the
/// pipeline to the guest session and the kernel build, so unit tests run
/// both against a fake QEMU and a fake make; `.live` is the real host.
public struct HostContext: Sendable {
    /// Runs short commands to completion (git, make's config targets).
    public var runner: any CommandRunning
    /// Starts the children a run watches while they run.
    public var spawner: any ProcessSpawning
    /// The time bounds and phases are measured against, and the pauses
    /// between reads of a growing file.
    public var clock: any HostClock

    public init(runner: any CommandRunning, spawner: any ProcessSpawning, clock: any HostClock) {
        self.runner = runner
        self.spawner = spawner
        self.clock = clock
    }

    /// The real host: posix_spawn, the wall clock.
    public static let live = HostContext(
        runner: SystemRunner(), spawner: SystemSpawner(), clock: SystemClock())
}

/// Starts a child with its standard streams on files (nil: /dev/null).
public protocol ProcessSpawning: Sendable {
    func spawn(
        _ command: Command, stdin: String?, stdout: String?, stderr: String?
    ) throws -> any RunningProcess
}

extension ProcessSpawning {
    public func spawn(
        _ command: Command, stdout: String? = nil, stderr: String? = nil
    ) throws -> any RunningProcess {
        try spawn(command, stdin: nil, stdout: stdout, stderr: stderr)
    }
}

/// A started child: asked whether it ended, waited for, stopped.
public protocol RunningProcess: Sendable {
    /// The exit status (128+signal when killed), or nil while it still runs.
    func poll() -> Int32?
    /// Waits up to `timeout` seconds; nil if it is still running then.
    func wait(timeout: Double) -> Int32?
    /// Stops it and what it started, and reaps it; safe to call more than once.
    func kill(grace: Double)
}

extension RunningProcess {
    public func kill() { kill(grace: 3) }
}

/// The time, and waiting for it to pass.
public protocol HostClock: Sendable {
    func now() -> Date
    func sleep(_ seconds: Double)
}

/// `ChildProcess.spawn`: registered children, reaped on any way out.
public struct SystemSpawner: ProcessSpawning {
    public init() {}

    public func spawn(
        _ command: Command, stdin: String?, stdout: String?, stderr: String?
    ) throws -> any RunningProcess {
        try ChildProcess.spawn(command, stdin: stdin, stdout: stdout, stderr: stderr)
    }
}

/// The wall clock.
public struct SystemClock: HostClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(_ seconds: Double) { usleep(useconds_t(max(0, seconds) * 1_000_000)) }
}

extension ChildProcess: RunningProcess {}

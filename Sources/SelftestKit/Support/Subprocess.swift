import Foundation
import Synchronization

/// A command to run: an executable and an argument array (never a shell string).
public struct Command: Sendable, Equatable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]
    /// Extra environment variables on top of the runner's own.
    public var environment: [String: String] = [:]

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    public var description: String { ([executable] + arguments).joined(separator: " ") }
}

/// How a finished command ended and what it printed.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    public var succeeded: Bool { status == 0 }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs short commands to completion. Tests substitute a recorder that
/// asserts on the argument lists without running anything.
public protocol CommandRunning: Sendable {
    func run(_ command: Command, stdin: Data?, timeout: Double) throws -> CommandResult
}

extension CommandRunning {
    public func run(_ command: Command, timeout: Double = 300) throws -> CommandResult {
        try run(command, stdin: nil, timeout: timeout)
    }
}

/// The real runner: `posix_spawn` with stdout and stderr to temporary files
/// (no pipe to fill up), every child registered so Ctrl-C can reap it.
public struct SystemRunner: CommandRunning {
    /// Runs even while the runner shuts down after an interrupt: for the
    /// cleanup that restores a worktree.
    public var duringShutdown = false

    public init(duringShutdown: Bool = false) {
        self.duringShutdown = duringShutdown
    }

    public func run(_ command: Command, stdin: Data?, timeout: Double) throws -> CommandResult {
        let scratch = try Scratch.directory(
            in: FileManager.default.temporaryDirectory, prefix: "selftests")
        defer { Scratch.remove(scratch) }
        let inPath = scratch.appendingPathComponent("stdin").path
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path
        try (stdin ?? Data()).write(to: URL(fileURLWithPath: inPath))

        let child = try ChildProcess.spawn(
            command, stdin: inPath, stdout: outPath, stderr: errPath,
            duringShutdown: duringShutdown)
        guard let status = child.wait(timeout: timeout) else {
            child.kill()
            throw SelftestError(
                .infrastructure, "\(command.executable) did not finish within \(Int(timeout)) s")
        }
        let out = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
        let err = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
        return CommandResult(status: status, stdout: out, stderr: err)
    }
}

/// A spawned child process. It stays in the registry until reaped, so that
/// an interrupt or a thrown error never leaves it running.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let status = Mutex<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `command` with its standard streams on the given files
    /// (nil: /dev/null), as the leader of its own process group so that
    /// `kill()` reaches everything it starts (make's compilers, too).
    /// Refuses once the runner is shutting down after an interrupt, unless
    /// `duringShutdown` (the cleanup's own git commands).
    public static func spawn(
        _ command: Command, stdin: String? = nil, stdout: String? = nil, stderr: String? = nil,
        duringShutdown: Bool = false
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(
            &actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        // A child inherits the spawning thread's signal mask (a Dispatch
        // worker blocks most signals) and every ignored signal (the
        // interrupt handler ignores SIGINT, SIGTERM and SIGHUP to take them
        // as events). Then a SIGTERM meant to let make delete its
        // half-written targets, or to stop QEMU, did nothing until the
        // SIGKILL came. Children start with nothing blocked and the
        // default action for the signals the runner sends or handles.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var env = ProcessInfo.processInfo.environment
        env.merge(command.environment) { _, new in new }
        let argv = [command.executable] + command.arguments
        let envp = env.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnv in
                posix_spawnp(&pid, command.executable, &actions, &attributes, cArgv, cEnv)
            }
        }
        guard rc == 0 else {
            throw SelftestError(
                .environment,
                "cannot start \(command.executable): \(String(cString: strerror(rc)))",
                fix: "run scripts/setup.sh to install the missing tool")
        }
        let child = ChildProcess(pid: pid)
        if !Children.shared.add(child) && !duringShutdown {
            child.kill()
            throw SelftestError(.interrupted, "interrupted")
        }
        return child
    }

    /// The exit status (128+signal when killed), or nil while it still runs.
    public func poll() -> Int32? {
        status.withLock { saved in
            if let saved { return saved }
            var raw: Int32 = 0
            let rc = waitpid(pid, &raw, WNOHANG)
            guard rc == pid else {
                if rc < 0 && errno == ECHILD { saved = -1 }
                return saved
            }
            let signal = raw & 0x7f
            saved = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            // What the leader left in its group (a compiler make started)
            // is an orphan now: it goes before the child counts as ended.
            ProcessGroup.stop(pid, grace: 0)
            Children.shared.remove(pid)
            return saved
        }
    }

    /// Waits up to `timeout` seconds; nil if it is still running then.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: useconds_t = 500
        while true {
            if let status = poll() { return status }
            if Date() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Stops the child and everything in its process group, and reaps it:
    /// SIGTERM first, so that make deletes the targets it was writing (a
    /// half-written object must not look up to date to the next build),
    /// SIGKILL after `grace` seconds. Safe to call more than once.
    public func kill(grace: Double) {
        if poll() != nil { return }
        Glibc.kill(-pid, SIGTERM)
        if wait(timeout: grace) == nil {
            Glibc.kill(-pid, SIGKILL)
            _ = wait(timeout: 10)
        }
    }
}

/// Every child still running, for the interrupt handler.
final class Children: Sendable {
    static let shared = Children()
    private let state = Mutex<(live: [pid_t: ChildProcess], closed: Bool)>(([:], false))

    /// Registers a child; false once the runner is shutting down.
    func add(_ child: ChildProcess) -> Bool {
        OrphanGuard.shared.watch(child.pid)
        return state.withLock {
            $0.live[child.pid] = child
            return !$0.closed
        }
    }

    /// Called once the child's whole group is gone.
    func remove(_ pid: pid_t) {
        _ = state.withLock { $0.live.removeValue(forKey: pid) }
        OrphanGuard.shared.forget(pid)
    }

    /// Kills and reaps every registered child.
    func killAll() {
        let all = state.withLock { Array($0.live.values) }
        for child in all { child.kill(grace: 2) }
    }

    /// No new child from now on (but the cleanup's); kills every live one.
    func shutDown() {
        state.withLock { $0.closed = true }
        killAll()
    }
}

/// On SIGINT, SIGTERM, SIGHUP, or SIGPIPE (the reader of the runner's output
/// went away, as `selftests run | head -1` does): stops every child, runs the
/// registered cleanups (a series restores its worktree, a run writes the
/// reports of what finished), and exits 130. A SIGKILL cannot be handled;
/// the `OrphanGuard` takes the children down then.
public enum InterruptHandler {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let cleanups = Mutex<(next: Int, actions: [Int: @Sendable () -> Void])>(
        (0, [:]))
    /// Set by the SIGPIPE handler, which may only do async-signal-safe work.
    private static let outputClosed = Atomic<Bool>(false)

    public static func install() {
        _ = OrphanGuard.shared
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let cause = outputClosed.load(ordering: .relaxed) ? "its output was closed" : name
                shutDown(cause: cause)
            }
            source.resume()
            sources.append(source)
        }
        // SIGPIPE goes to the thread that wrote, not to the process, so a
        // signal source never sees it: the handler turns it into a SIGTERM.
        _ = outputClosed.load(ordering: .relaxed)
        signal(SIGPIPE) { _ in
            InterruptHandler.outputClosed.store(true, ordering: .relaxed)
            kill(getpid(), SIGTERM)
        }
    }

    private static let shutdownCause = Mutex<String?>(nil)

    /// What interrupted the runner ("SIGINT", "its output was closed"),
    /// for the cleanups; nil while it runs.
    public static var cause: String? { shutdownCause.withLock { $0 } }

    private static func shutDown(cause: String) {
        // A second signal while shutting down changes nothing.
        let first = shutdownCause.withLock { current in
            if current != nil { return false }
            current = cause
            return true
        }
        guard first else { return }
        Children.shared.shutDown()
        let actions = cleanups.withLock { state in
            state.actions.sorted { $0.key > $1.key }.map(\.value)
        }
        for action in actions { action() }
        FileHandle.standardError.write(
            Data("selftests: interrupted (\(cause)); no VM or build left running\n".utf8))
        exit(130)
    }

    /// Runs `action` if the runner is interrupted before `remove(_:)` is
    /// called with the returned token; the newest registered runs first.
    public static func register(_ action: @escaping @Sendable () -> Void) -> Int {
        cleanups.withLock { state in
            state.next += 1
            state.actions[state.next] = action
            return state.next
        }
    }

    public static func remove(_ token: Int) {
        _ = cleanups.withLock { $0.actions.removeValue(forKey: token) }
    }

    /// For a thread that finds the runner shutting down: whatever it would
    /// do next is wrong (verdicts on guests the shutdown killed, reports
    /// that overwrite the partial ones), and the shutdown ends the process.
    /// It waits for that.
    public static func waitIfShuttingDown() {
        guard cause != nil else { return }
        while true { sleep(3600) }
    }

    /// Kills every child the runner started; for error paths.
    public static func reapAll() { Children.shared.killAll() }
}

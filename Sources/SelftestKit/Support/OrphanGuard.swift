import Foundation
import Synchronization

/// Kills the runner's children when the runner dies in a way it cannot
/// handle itself: SIGKILL, a crash, an uncaught signal.
///
/// A parent-death signal (`PR_SET_PDEATHSIG`) is not enough: it reaches only
/// the direct child (make, not the compilers make starts), `posix_spawn`
/// cannot set it, and it fires when the *thread* that spawned the child
/// ends, which a Dispatch worker does at any time. So the runner starts one
/// small guard process instead: a shell reading, on a socket only the
/// runner holds, the process group of every child as it starts (`+PGID`) and ends
/// (`-PGID`). When the runner is gone, for whatever reason, the kernel
/// closes the socket; the guard sees end of file and kills every group still
/// listed: SIGTERM, so make deletes half-written targets, then SIGKILL.
///
/// The guard leads its own process group and ignores the signals a terminal
/// or a pipe sends, so a Ctrl-C meant for the runner never takes it first.
final class OrphanGuard: Sendable {
    static let shared = OrphanGuard()

    /// Bounded: two seconds of grace, then SIGKILL, then it exits.
    static let script = """
        trap '' HUP INT TERM QUIT PIPE
        set --
        while IFS= read -r line; do
          case $line in
            +*) set -- "$@" "${line#+}" ;;
            -*) gone=${line#-}; kept=
                for g do [ "$g" = "$gone" ] || kept="$kept $g"; done
                set -- $kept ;;
          esac
        done
        [ $# -eq 0 ] && exit 0
        for g do kill -s TERM -- "-$g" 2>/dev/null; done
        sleep 2
        for g do kill -s KILL -- "-$g" 2>/dev/null; done
        exit 0
        """

    /// The runner's end of the socket (close-on-exec, so no child holds
    /// it), or nil when the guard could not start: the runner then works as
    /// before. A socket rather than a pipe so that a write after the guard
    /// died is an error (`MSG_NOSIGNAL`), not a SIGPIPE that would read as
    /// the runner's own output being closed.
    private let socket: Int32?
    private let lock = Mutex(())

    private init() {
        var fds: [Int32] = [0, 0]
        guard
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
                == 0
        else {
            socket = nil
            return
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var child: pid_t = 0
        let argv = ["/bin/sh", "-c", Self.script, "selftests-orphan-guard"]
        let rc = withCStrings(argv) { cArgv in
            withCStrings([]) { posix_spawn(&child, "/bin/sh", &actions, &attributes, cArgv, $0) }
        }
        close(fds[0])
        guard rc == 0 else {
            close(fds[1])
            socket = nil
            return
        }
        socket = fds[1]
    }

    /// Lists a child's process group with the guard.
    func watch(_ group: pid_t) { send("+\(group)\n") }

    /// Takes a group off the list once it is gone.
    func forget(_ group: pid_t) { send("-\(group)\n") }

    private func send(_ line: String) {
        guard let socket else { return }
        lock.withLock { _ in
            _ = line.utf8CString.withUnsafeBufferPointer { buffer in
                Glibc.send(socket, buffer.baseAddress, buffer.count - 1, Int32(MSG_NOSIGNAL))
            }
        }
    }
}

/// The processes of one process group, read from /proc.
enum ProcessGroup {
    /// Members still running; zombies do not count (on some hosts nobody
    /// reaps an orphan's zombie, and it holds nothing).
    static func liveMembers(_ group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm)": state, ppid, pgrp.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else {
                return nil
            }
            return pid
        }
    }

    /// SIGTERM the group (unless `grace` is 0), SIGKILL what is left after
    /// `grace` seconds, and wait, up to five seconds more, until no member
    /// runs: a compiler killed with make can still be exiting when make is
    /// reaped, and must not outlive the runner's own report of the kill.
    static func stop(_ group: pid_t, grace: Double) {
        // The usual case, a group already gone, costs one syscall, not a
        // walk of /proc; zombies keep a group and need the walk.
        guard kill(-group, 0) == 0, !liveMembers(group).isEmpty else { return }
        if grace > 0 {
            kill(-group, SIGTERM)
            if awaitGone(group, timeout: grace) { return }
        }
        kill(-group, SIGKILL)
        _ = awaitGone(group, timeout: 5)
    }

    private static func awaitGone(_ group: pid_t, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !liveMembers(group).isEmpty {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }
}

func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
}

import Glibc

/// A child process parked on a pipe, to own task storage; it exits when
/// released. The child closes every inherited descriptor first: a map or
/// socket fd it kept would keep that map or socket alive, and the test's
/// result pipe would keep the agent waiting.
final class ParkedProcess {
    let pid: pid_t
    let pidfd: Int32
    private var releaseFD: Int32
    private var reaped = false

    init() throws {
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { throw SystemCallError(call: "pipe", errno: errno) }
        Libc.resolve()
        let pid = fork()
        if pid == 0 {
            // Only system calls (through symbols resolved above) from here:
            // this is a copy of a process that may have other threads.
            dup2(fds[0], 0)
            Libc.closeAll(from: 3)
            var byte: UInt8 = 0
            while read(0, &byte, 1) < 0 && errno == EINTR {}
            _exit(0)
        }
        close(fds[0])
        if pid < 0 {
            close(fds[1])
            throw SystemCallError(call: "fork", errno: errno)
        }
        self.pid = pid
        releaseFD = fds[1]
        do {
            pidfd = try Libc.pidfdOpen(pid)
        } catch {
            close(releaseFD)
            Libc.reap(pid, seconds: 5)
            throw error
        }
    }

    /// Lets the child exit (it sees EOF) without waiting for it.
    func release() {
        if releaseFD >= 0 { close(releaseFD) }
        releaseFD = -1
    }

    /// Releases the child and reaps it; returns whether it exited in time.
    @discardableResult
    func releaseAndReap(seconds: Double = 5) -> Bool {
        release()
        if reaped { return true }
        reaped = true
        return Libc.reap(pid, seconds: seconds)
    }

    deinit {
        releaseAndReap(seconds: 1)
        close(pidfd)
    }
}

import Glibc

/// glibc calls the storage tests need that Swift's Glibc module leaves out
/// (GNU extensions, `sys/pidfd.h`), looked up by name in the loaded libc.
enum StorageSys {
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias GetTid = @convention(c) () -> pid_t
    private typealias Unshare = @convention(c) (Int32) -> Int32
    private typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32
    private typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer?) -> Int32

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }
    }

    /// A pidfd for `pid`: the key of task storage from user space.
    static func pidfdOpen(_ pid: pid_t) throws -> Int32 {
        guard let call = symbol("pidfd_open", as: PidfdOpen.self) else {
            throw SystemCallError(call: "pidfd_open (not in libc)", errno: ENOSYS)
        }
        let fd = call(pid, 0)
        if fd < 0 { throw SystemCallError(call: "pidfd_open(\(pid))", errno: errno) }
        return fd
    }

    /// The calling thread's id: what BPF sees as the low half of
    /// `bpf_get_current_pid_tgid()`.
    static func gettid() -> UInt32 {
        guard let call = symbol("gettid", as: GetTid.self) else { return UInt32(getpid()) }
        return UInt32(call())
    }

    /// Leaves the shared mount namespace, so mounts the test makes vanish
    /// with it (`unshare(CLONE_NEWNS)`).
    static func unshareMountNamespace() throws {
        let cloneNewNS: Int32 = 0x0002_0000
        guard let call = symbol("unshare", as: Unshare.self) else {
            throw SystemCallError(call: "unshare (not in libc)", errno: ENOSYS)
        }
        if call(cloneNewNS) != 0 {
            throw SystemCallError(call: "unshare(CLONE_NEWNS)", errno: errno)
        }
    }

    /// `close_range(first, ~0, 0)`, resolved before a fork so the child
    /// calls nothing but system calls.
    static func closeRangeFunction() -> (@convention(c) (UInt32, UInt32, Int32) -> Int32)? {
        symbol("close_range", as: CloseRange.self)
    }

    /// Pins the calling thread to `cpu`.
    static func pin(to cpu: Int) throws {
        guard let call = symbol("sched_setaffinity", as: SetAffinity.self) else {
            throw SystemCallError(call: "sched_setaffinity (not in libc)", errno: ENOSYS)
        }
        // A cpu_set_t of 1024 bits, as glibc defines it.
        var mask = [UInt64](repeating: 0, count: 16)
        mask[cpu / 64] |= 1 << UInt64(cpu % 64)
        if mask.withUnsafeBytes({ call(0, $0.count, $0.baseAddress) }) != 0 {
            throw SystemCallError(call: "sched_setaffinity(CPU \(cpu))", errno: errno)
        }
    }

    /// The number of online CPUs.
    static func onlineCPUs() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Waits for `pid` up to `seconds`; kills and reaps it past that.
    /// Returns whether it ended by itself.
    @discardableResult
    static func reap(_ pid: pid_t, seconds: Double) -> Bool {
        let deadline = Clock.now() + seconds
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid || (rc < 0 && errno != EINTR) { return true }
            if Clock.now() >= deadline { break }
            Clock.sleep(milliseconds: 5)
        }
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return false
    }
}

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
        let closeRange = StorageSys.closeRangeFunction()
        let pid = fork()
        if pid == 0 {
            // Only system calls from here: this is a copy of a process that
            // may have other threads.
            dup2(fds[0], 0)
            if let closeRange { _ = closeRange(3, UInt32.max, 0) }
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
            pidfd = try StorageSys.pidfdOpen(pid)
        } catch {
            close(releaseFD)
            StorageSys.reap(pid, seconds: 5)
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
        return StorageSys.reap(pid, seconds: seconds)
    }

    deinit {
        releaseAndReap(seconds: 1)
        close(pidfd)
    }
}

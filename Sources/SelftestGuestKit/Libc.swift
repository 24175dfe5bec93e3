import Glibc
import SelftestCatalog

/// A system call that failed: which call, and its errno.
public struct SystemCallError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public var description: String { "\(call) failed: \(errnoName(errno))" }
}

/// glibc calls the guest tests need that Swift's Glibc module leaves out
/// (`sched.h` declares affinity, `gettid` and `unshare` only under
/// `_GNU_SOURCE`, and `sys/pidfd.h` is not in the module), looked up once
/// by name in the already-loaded libc; plus the sysfs CPU lists.
enum Libc {
    private typealias SetAffinity =
        @convention(c) (pid_t, Int, UnsafePointer<cpu_set_t>) -> Int32
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias GetTid = @convention(c) () -> pid_t
    private typealias Unshare = @convention(c) (Int32) -> Int32
    private typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }
    }

    private static let setAffinity = symbol("sched_setaffinity", as: SetAffinity.self)
    private static let pidfd = symbol("pidfd_open", as: PidfdOpen.self)
    private static let getTid = symbol("gettid", as: GetTid.self)
    private static let unshareCall = symbol("unshare", as: Unshare.self)
    private static let closeRange = symbol("close_range", as: CloseRange.self)

    /// Resolves every symbol now, so that a child forked from a process
    /// that may have other threads only reads them and makes system calls.
    static func resolve() {
        _ = (setAffinity, pidfd, getTid, unshareCall, closeRange)
    }

    /// A pidfd for `pid`: the key of task storage from user space.
    static func pidfdOpen(_ pid: pid_t) throws -> Int32 {
        guard let pidfd else {
            throw SystemCallError(call: "pidfd_open (not in libc)", errno: ENOSYS)
        }
        let fd = pidfd(pid, 0)
        if fd < 0 { throw SystemCallError(call: "pidfd_open(\(pid))", errno: errno) }
        return fd
    }

    /// The calling thread's id: what BPF sees as the low half of
    /// `bpf_get_current_pid_tgid()`.
    static func gettid() -> UInt32 {
        guard let getTid else { return UInt32(getpid()) }
        return UInt32(getTid())
    }

    /// Leaves the shared mount namespace, so mounts the test makes vanish
    /// with it (`unshare(CLONE_NEWNS)`).
    static func unshareMountNamespace() throws {
        let cloneNewNS: Int32 = 0x0002_0000
        guard let unshareCall else {
            throw SystemCallError(call: "unshare (not in libc)", errno: ENOSYS)
        }
        if unshareCall(cloneNewNS) != 0 {
            throw SystemCallError(call: "unshare(CLONE_NEWNS)", errno: errno)
        }
    }

    /// Closes every descriptor from `first` up (`close_range(first, ~0, 0)`),
    /// so that a forked child holds no map, socket or result pipe open.
    /// Call `resolve()` before the fork.
    static func closeAll(from first: Int32) {
        _ = closeRange?(UInt32(first), UInt32.max, 0)
    }

    /// Pins the calling thread to `cpu`; throws with the errno if the kernel
    /// refuses, since a per-CPU check on the wrong CPU proves nothing.
    static func pin(to cpu: Int) throws {
        let rc = setAffinity(to: [cpu])
        if rc != 0 { throw SystemCallError(call: "sched_setaffinity(CPU \(cpu))", errno: rc) }
    }

    /// Moves the calling thread onto exactly these CPUs; the kernel migrates
    /// it before the call returns.
    static func pin(toCPUs cpus: [Int]) throws {
        let rc = setAffinity(to: cpus)
        if rc != 0 { throw SystemCallError(call: "sched_setaffinity(CPUs \(cpus))", errno: rc) }
    }

    /// `sched_setaffinity` on the calling thread; 0 or the errno.
    private static func setAffinity(to cpus: [Int]) -> Int32 {
        guard let setAffinity else { return ENOSYS }
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { bytes in
            for cpu in cpus where cpu >= 0 && cpu / 8 < bytes.count {
                bytes[cpu / 8] |= UInt8(1) << UInt8(cpu % 8)
            }
        }
        return setAffinity(0, MemoryLayout<cpu_set_t>.size, &set) == 0 ? 0 : errno
    }

    /// The online CPUs, from `/sys/devices/system/cpu/online`.
    static func onlineCPUs() -> [Int] { cpuList("/sys/devices/system/cpu/online") }

    /// The possible CPUs: per-CPU maps hold a value for each.
    static func possibleCPUs() -> [Int] { cpuList("/sys/devices/system/cpu/possible") }

    /// CPUs in a sysfs list such as `0-1,4`; `[0]` when it cannot be read.
    private static func cpuList(_ path: String) -> [Int] {
        guard let text = FD.readFile(path) else { return [0] }
        var cpus: [Int] = []
        for part in text.trimming("\n\r ", leading: false).split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if let low = bounds.first { cpus += Array(low...(bounds.last ?? low)) }
        }
        return cpus.isEmpty ? [0] : cpus
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

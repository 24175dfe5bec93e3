import Glibc

/// glibc functions that Swift's Glibc module does not import (`sched.h`
/// declares affinity only under `_GNU_SOURCE`, and `sys/pidfd.h` is not in
/// the module), looked up once in the already-loaded libc.
enum LibcExtras {
    private typealias SetAffinity =
        @convention(c) (pid_t, Int, UnsafePointer<cpu_set_t>) -> Int32
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        guard let address = dlsym(dlopen(nil, RTLD_NOW), name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    private static let setAffinity = symbol("sched_setaffinity", as: SetAffinity.self)
    private static let pidfd = symbol("pidfd_open", as: PidfdOpen.self)
    private static let closeRange = symbol("close_range", as: CloseRange.self)

    /// Resolves every symbol now, so that a forked child only calls them.
    static func resolve() {
        _ = (setAffinity, pidfd, closeRange)
    }

    /// Moves the calling thread onto exactly these CPUs; the kernel migrates
    /// it before the call returns. Returns 0 or the errno.
    static func pin(toCPUs cpus: [Int]) -> Int32 {
        guard let call = setAffinity else { return ENOSYS }
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { bytes in
            for cpu in cpus where cpu / 8 < bytes.count {
                bytes[cpu / 8] |= UInt8(1) << UInt8(cpu % 8)
            }
        }
        return call(0, MemoryLayout<cpu_set_t>.size, &set) == 0 ? 0 : errno
    }

    /// A pidfd for `pid` (a process this test forked), or -errno.
    static func pidfdOpen(_ pid: pid_t) -> Int32 {
        guard let call = pidfd else { return -ENOSYS }
        let fd = call(pid, 0)
        return fd < 0 ? -errno : fd
    }

    /// Closes every descriptor from `first` up, so that a forked child does
    /// not hold the agent's result pipe open.
    static func closeAll(from first: Int32) {
        _ = closeRange?(UInt32(first), UInt32.max, 0)
    }

    /// CPUs in a sysfs list such as `0-1,4` (`/sys/devices/system/cpu/online`).
    static func cpuList(_ path: String) -> [Int] {
        guard let text = FD.readFile(path) else { return [0] }
        var cpus: [Int] = []
        for part in text.trimmingNewline().split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2 {
                cpus += Array(bounds[0]...bounds[1])
            } else if let only = bounds.first {
                cpus.append(only)
            }
        }
        return cpus.isEmpty ? [0] : cpus
    }
}

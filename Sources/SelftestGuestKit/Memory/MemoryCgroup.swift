import Glibc
import SelftestCatalog

/// A fresh cgroup v2 child with the memory controller, that the test process
/// joins so that everything it makes the kernel allocate is charged there.
///
/// Why the care around reading it: memcg charges pages in batches of 64 per
/// CPU and keeps the surplus, and the bytes below a page of slab charges, in
/// per-CPU stocks that `memory.current` already counts; and `memory.stat`
/// shows per-CPU updates only once they are flushed, which it skips for small
/// changes. `snapshot()` drains every CPU's stock and forces the flush first.
final class MemoryCgroup {
    static let root = "/sys/fs/cgroup"
    nonisolated(unsafe) private static var sequence = 0

    let path: String
    /// A sibling that takes the charges that push our stocks out.
    private let drainPath: String
    private let cpus = Libc.onlineCPUs()
    private(set) var joined = false

    init(_ label: String) throws {
        Self.sequence += 1
        let base = "\(Self.root)/selftests-\(label)-\(getpid())-\(Self.sequence)"
        path = base
        drainPath = base + "-drain"
        if !FD.writeFile("\(Self.root)/cgroup.subtree_control", "+memory") {
            throw SystemCallError(call: "enable +memory in \(Self.root)", errno: errno)
        }
        for dir in [path, drainPath] where mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw SystemCallError(call: "mkdir(\(dir))", errno: errno)
        }
        guard FD.readFile("\(path)/memory.current") != nil else {
            throw SystemCallError(call: "read \(path)/memory.current", errno: errno)
        }
    }

    deinit { remove() }

    /// Moves this process in; allocations from now on are charged here.
    func join() throws {
        try move(to: path)
        joined = true
    }

    /// Moves this process back to the root cgroup.
    func leave() throws {
        try move(to: Self.root)
        joined = false
    }

    private func move(to dir: String) throws {
        if !FD.writeFile("\(dir)/cgroup.procs", "\(getpid())") {
            throw SystemCallError(call: "move pid \(getpid()) into \(dir)", errno: errno)
        }
    }

    /// Removes both directories (a cgroup whose memory is still charged
    /// lingers in the kernel as an offline cgroup, which is fine here).
    func remove() {
        if joined { try? leave() }
        rmdir(path)
        rmdir(drainPath)
    }

    /// One fresh anonymous page (charged as a page, which replaces the CPU's
    /// page stock) and a pipe (accounted slab, which replaces its byte
    /// stock); both freed at once.
    private static func chargeOnePageAndSomeSlab() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let memory, memory != MAP_FAILED {
            memory.storeBytes(of: 1, as: UInt8.self)
            munmap(memory, page)
        }
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            close(fds[0])
            close(fds[1])
        }
    }

    /// The cgroup's counters now, with its per-CPU charge stocks pushed out
    /// and its statistics flushed.
    ///
    /// Everything here runs from the sibling cgroup: reading a cgroup file
    /// allocates an accounted buffer, and charging that here would refill
    /// the very stock being drained. On each CPU in turn, a page and some
    /// slab charged to the sibling replace our stocks there, which returns
    /// their pages to our counter.
    func snapshot() throws -> MemorySnapshot {
        let wasJoined = joined
        try move(to: drainPath)
        defer { _ = try? move(to: wasJoined ? path : Self.root) }
        for cpu in cpus {
            try Libc.pin(to: cpu)
            Self.chargeOnePageAndSomeSlab()
        }
        try? Libc.pin(toCPUs: cpus)
        // Reading cpu.stat of a non-root cgroup flushes every controller's
        // per-CPU statistics for it, memory.stat included, unconditionally.
        _ = FD.readFile("\(path)/cpu.stat")
        guard
            let current = FD.readFile("\(path)/memory.current").flatMap({
                Int($0.trimming("\n\r ", leading: false))
            }),
            let stat = FD.readFile("\(path)/memory.stat")
        else {
            throw SystemCallError(call: "read \(path)/memory.current and memory.stat", errno: errno)
        }
        return MemorySnapshot(
            current: current, stat: KeyedNumbers(stat, separator: " "),
            meminfo: KeyedNumbers(FD.readFile("/proc/meminfo") ?? "", separator: ":"))
    }
}

/// `name value` lines (memory.stat) or `Name:   value kB` (/proc/meminfo).
struct KeyedNumbers {
    var values: [String: Int] = [:]

    init(_ text: String, separator: Character) {
        for line in text.split(separator: "\n") {
            guard let split = line.firstIndex(of: separator) else { continue }
            let key = String(line[..<split])
            let fields = line[line.index(after: split)...].split { $0 == " " || $0 == "\t" }
            guard let number = fields.first.flatMap({ Int($0) }) else { continue }
            values[key] = fields.count > 1 && fields[1] == "kB" ? number * 1024 : number
        }
    }

    subscript(_ key: String) -> Int { values[key] ?? 0 }
}

/// One reading of a cgroup's memory and of the machine's.
struct MemorySnapshot {
    var current: Int
    var stat: KeyedNumbers
    var meminfo: KeyedNumbers

    /// The part of what the process charged to this cgroup that is its own
    /// (user pages and page tables), not the kernel objects it asked for.
    var ownPages: Int { stat["anon"] + stat["file"] + stat["pagetables"] }

    /// `memory.current` without the process's own pages.
    var charged: Int { current - ownPages }

    /// Kernel memory by /proc/meminfo: slab, per-CPU and vmalloc pages.
    var meminfoKernel: Int {
        meminfo["Slab"] + meminfo["Percpu"] + meminfo["VmallocUsed"]
    }
}

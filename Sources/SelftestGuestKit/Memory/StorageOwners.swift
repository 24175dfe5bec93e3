import CLibbpf
import Glibc

/// The objects a local-storage map hangs its elements on: sockets, tasks or
/// cgroups, each reachable from user space through a file descriptor (the
/// map's key).
final class StorageOwners {
    /// Which owners, and the map type that stores on them.
    enum Kind: String {
        case socket, task, cgroup

        var mapType: bpf_map_type {
            switch self {
            case .socket: BPF_MAP_TYPE_SK_STORAGE
            case .task: BPF_MAP_TYPE_TASK_STORAGE
            // Added in 6.2, after the UAPI headers this is built against:
            // the value that follows BPF_MAP_TYPE_USER_RINGBUF.
            case .cgroup: bpf_map_type(rawValue: BPF_MAP_TYPE_USER_RINGBUF.rawValue + 1)
            }
        }

        var typeName: String {
            switch self {
            case .socket: "SK_STORAGE"
            case .task: "TASK_STORAGE"
            case .cgroup: "CGRP_STORAGE"
            }
        }
    }

    let kind: Kind
    /// One descriptor per owner: a socket, a pidfd, a cgroup directory.
    private(set) var fds: [Int32] = []
    private var pids: [pid_t] = []
    private var directories: [String] = []
    private var parent: String?

    /// Makes `count` owners. Call it before joining the measured cgroup: the
    /// owners' own memory is not the map's cost.
    init(_ kind: Kind, count: Int) throws {
        self.kind = kind
        try Self.raiseFileLimit(above: count + 64)
        switch kind {
        case .socket:
            for _ in 0..<count { fds.append(try Self.socket()) }
        case .task:
            Libc.resolve()
            for _ in 0..<count { try spawnTask() }
        case .cgroup:
            let dir = "\(MemoryCgroup.root)/selftests-owners-\(getpid())"
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw SystemCallError(call: "mkdir(\(dir))", errno: errno)
            }
            parent = dir
            for i in 0..<count { try makeCgroup("\(dir)/\(i)") }
        }
    }

    deinit { destroy() }

    /// Ends every owner: closes the sockets, kills and reaps the tasks,
    /// removes the cgroups. The kernel frees their storage as each goes.
    func destroy() {
        for fd in fds { close(fd) }
        fds = []
        for pid in pids { kill(pid, SIGKILL) }
        for pid in pids {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        pids = []
        for dir in directories { rmdir(dir) }
        directories = []
        if let parent { rmdir(parent) }
        parent = nil
    }

    private static func socket() throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemCallError(call: "socket(tcp)", errno: errno) }
        return fd
    }

    /// A child that only waits to be killed; its pidfd is the map key.
    private func spawnTask() throws {
        let pid = fork()
        if pid == 0 {
            Libc.closeAll(from: 3)
            while true { pause() }
        }
        if pid < 0 { throw SystemCallError(call: "fork", errno: errno) }
        pids.append(pid)
        fds.append(try Libc.pidfdOpen(pid))
    }

    private func makeCgroup(_ dir: String) throws {
        if mkdir(dir, 0o755) != 0 { throw SystemCallError(call: "mkdir(\(dir))", errno: errno) }
        directories.append(dir)
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemCallError(call: "open(\(dir))", errno: errno) }
        fds.append(fd)
    }

    /// One descriptor per owner may exceed the default soft limit of 1024.
    private static func raiseFileLimit(above needed: Int) throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        if Int(limit.rlim_cur) >= needed { return }
        limit.rlim_cur = rlim_t(needed)
        limit.rlim_max = max(limit.rlim_max, rlim_t(needed))
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            throw SystemCallError(call: "setrlimit(RLIMIT_NOFILE, \(needed))", errno: errno)
        }
    }
}

/// BTF for a local-storage map, loaded into the kernel: the kernel requires
/// it for these maps. Key `int` (the owner's descriptor), value
/// `unsigned char[N]`.
final class StorageBTF {
    private let btf: OpaquePointer
    let keyType: UInt32
    let valueType: UInt32

    init(valueSize: Int) throws {
        LibbpfLog.install()
        guard let btf = btf__new_empty() else {
            throw BPFError(call: "btf__new_empty", errno: errno, log: "")
        }
        self.btf = btf
        do {
            let int = try check(btf__add_int(btf, "int", 4, BTF_INT_SIGNED), "btf__add_int(int)")
            let byte = try check(btf__add_int(btf, "unsigned char", 1, 0), "btf__add_int(char)")
            let array = try check(
                btf__add_array(btf, int, byte, UInt32(valueSize)), "btf__add_array")
            try check(btf__load_into_kernel(btf), "btf__load_into_kernel")
            keyType = UInt32(int)
            valueType = UInt32(array)
        } catch {
            btf__free(btf)
            throw error
        }
    }

    deinit { btf__free(btf) }

    var fd: Int32 { btf__fd(btf) }

    /// Creates the map; local storage is never preallocated.
    func createMap(_ kind: StorageOwners.Kind, valueSize: Int) throws -> BPFMap {
        var opts = bpf_map_create_opts()
        opts.sz = MemoryLayout<bpf_map_create_opts>.size
        opts.map_flags = UInt32(BPF_F_NO_PREALLOC)
        opts.btf_fd = UInt32(fd)
        opts.btf_key_type_id = keyType
        opts.btf_value_type_id = valueType
        let mapFD = bpf_map_create(kind.mapType, "mem_storage", 4, UInt32(valueSize), 0, &opts)
        try check(mapFD, "bpf_map_create(BPF_MAP_TYPE_\(kind.typeName))")
        return BPFMap(fd: mapFD, name: "mem_storage", owned: true)
    }
}

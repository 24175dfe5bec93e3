import CLibbpf
import Glibc

/// A system call that failed: which call, and its errno.
public struct SystemCallError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public var description: String { "\(call) failed: \(errnoName(errno))" }
}

/// A socket owned by a test, with the socket options the storage tests read:
/// its memory counters (`SO_MEMINFO`) and its cookie (`SO_COOKIE`).
///
/// The socket is not bound or connected, so it needs no network namespace.
public final class TestSocket {
    /// The descriptor, or -1 once closed.
    public private(set) var fd: Int32
    /// `tcp`, `udp`, … for messages.
    public let label: String

    public init(domain: Int32 = AF_INET, type: Int32 = Int32(SOCK_STREAM.rawValue)) throws {
        let label = Self.label(domain: domain, type: type)
        let fd = socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemCallError(call: "socket(\(label))", errno: errno) }
        self.fd = fd
        self.label = label
    }

    /// A TCP socket over IPv4.
    public static func tcp() throws -> TestSocket { try TestSocket() }

    /// A UDP socket over IPv4.
    public static func udp() throws -> TestSocket {
        try TestSocket(type: Int32(SOCK_DGRAM.rawValue))
    }

    deinit { close() }

    /// Closes the descriptor; the kernel destroys the socket once nothing
    /// else holds it (for some protocols after an RCU grace period).
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// The `SK_MEMINFO_*` counters (`SO_MEMINFO`), indexed as in
    /// `linux/sock_diag.h`.
    public func memInfo() throws -> [UInt32] {
        var info = [UInt32](repeating: 0, count: Int(SK_MEMINFO_VARS))
        var length = socklen_t(info.count * MemoryLayout<UInt32>.size)
        let rc = info.withUnsafeMutableBytes {
            getsockopt(fd, SOL_SOCKET, SO_MEMINFO, $0.baseAddress, &length)
        }
        if rc < 0 { throw SystemCallError(call: "getsockopt(SO_MEMINFO)", errno: errno) }
        return info
    }

    /// The option memory charged to the socket (`sk_omem_alloc`), which is
    /// where socket local storage is charged.
    public func optmem() throws -> UInt32 {
        try memInfo()[Int(SK_MEMINFO_OPTMEM)]
    }

    /// The socket's cookie (`SO_COOKIE`): the kernel assigns one on first
    /// request, and BPF programs read it as `sk->__sk_common.skc_cookie`.
    public func cookie() throws -> UInt64 {
        var cookie: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        if getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) < 0 {
            throw SystemCallError(call: "getsockopt(SO_COOKIE)", errno: errno)
        }
        return cookie
    }

    static func label(domain: Int32, type: Int32) -> String {
        let family = domain == AF_INET ? "" : domain == AF_INET6 ? "6" : " family \(domain)"
        switch type {
        case Int32(SOCK_STREAM.rawValue): return "tcp" + family
        case Int32(SOCK_DGRAM.rawValue): return "udp" + family
        default: return "socket type \(type)" + family
        }
    }
}

extension BPFMap {
    /// Creates a `BPF_MAP_TYPE_SK_STORAGE` map from user space, without an
    /// object file. The kernel requires BTF for the key and value of local
    /// storage maps, so this loads a small BTF blob describing them: the key
    /// is `int` (a socket fd from user space), the value `unsigned char[N]`.
    public static func socketStorage(name: String, valueSize: Int) throws -> BPFMap {
        LibbpfLog.install()
        guard let btf = btf__new_empty() else {
            throw BPFError(call: "btf__new_empty", errno: errno, log: "")
        }
        defer { btf__free(btf) }
        let intType = try check(btf__add_int(btf, "int", 4, BTF_INT_SIGNED), "btf__add_int(int)")
        let byteType = try check(btf__add_int(btf, "unsigned char", 1, 0), "btf__add_int(char)")
        let valueType = try check(
            btf__add_array(btf, intType, byteType, UInt32(valueSize)), "btf__add_array")
        try check(btf__load_into_kernel(btf), "btf__load_into_kernel")

        var opts = bpf_map_create_opts()
        opts.sz = MemoryLayout<bpf_map_create_opts>.size
        opts.map_flags = UInt32(BPF_F_NO_PREALLOC)
        opts.btf_fd = UInt32(btf__fd(btf))
        opts.btf_key_type_id = UInt32(intType)
        opts.btf_value_type_id = UInt32(valueType)
        let fd = bpf_map_create(
            BPF_MAP_TYPE_SK_STORAGE, name, 4, UInt32(valueSize), 0, &opts)
        try check(fd, "bpf_map_create(\(name), BPF_MAP_TYPE_SK_STORAGE)")
        return BPFMap(fd: fd, name: name, owned: true)
    }
}

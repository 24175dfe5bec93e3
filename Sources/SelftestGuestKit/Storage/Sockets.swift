import CLibbpf
import Glibc

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

    /// Takes ownership of a socket the kernel made (an accepted connection).
    init(adopting fd: Int32, label: String) {
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
    /// object file (see `localStorage`).
    public static func socketStorage(name: String, valueSize: Int) throws -> BPFMap {
        try localStorage(.sk, name: name, valueSize: valueSize)
    }
}

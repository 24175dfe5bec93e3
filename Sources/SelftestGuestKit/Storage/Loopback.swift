import Glibc

/// A TCP connection over the guest's loopback: the listener, the client
/// end and the socket `accept()` returned, for the clone tests.
struct LoopbackConnection {
    let client: TestSocket
    let accepted: TestSocket
}

extension TestSocket {
    /// A TCP socket listening on 127.0.0.1 at a port the kernel picks.
    static func loopbackListener() throws -> (socket: TestSocket, port: UInt16) {
        let listener = try TestSocket.tcp()
        var address = Self.loopback(port: 0)
        try listener.call("bind(127.0.0.1:0)") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        try listener.call("listen") { listen(listener.fd, 8) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try listener.call("getsockname") {
            withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getsockname(listener.fd, $0, &length)
                }
            }
        }
        return (listener, UInt16(bigEndian: bound.sin_port))
    }

    /// Connects a new client to this listener and accepts the connection.
    func connectAndAccept(port: UInt16) throws -> LoopbackConnection {
        let client = try TestSocket.tcp()
        var address = Self.loopback(port: port)
        try client.call("connect(127.0.0.1:\(port))") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(client.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        let accepted = accept(fd, nil, nil)
        if accepted < 0 { throw SystemCallError(call: "accept", errno: errno) }
        return LoopbackConnection(
            client: client, accepted: TestSocket(adopting: accepted, label: "accepted tcp"))
    }

    /// `setsockopt` with a 64-bit argument; 0 or the errno.
    func setOption(level: Int32, name: Int32, _ value: UInt64) -> Int32 {
        var argument = value
        let rc = setsockopt(fd, level, name, &argument, socklen_t(MemoryLayout<UInt64>.size))
        return rc == 0 ? 0 : errno
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    private func call(_ what: String, _ body: () -> Int32) throws {
        if body() < 0 { throw SystemCallError(call: "\(what) on \(label)", errno: errno) }
    }
}

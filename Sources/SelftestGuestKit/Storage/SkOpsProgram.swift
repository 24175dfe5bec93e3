import CLibbpf
import Glibc

/// Mirrors `struct sk_ops_value` in `progs/sk_storage_ops.bpf.c` (16 bytes).
struct SkOpsValue: Equatable {
    static let magic: UInt64 = 0x736b_5f6f_7073_2121  // "sk_ops!!"
    var magic = SkOpsValue.magic
    var generation: UInt64
}

/// Mirrors `struct sk_locked_value` (24 bytes): a `struct bpf_spin_lock`
/// (4 bytes), padding, then two counters the program moves together.
struct SkLockedValue: Equatable {
    var lock: UInt32 = 0
    var pad: UInt32 = 0
    var a: UInt64
    var b: UInt64
}

/// A program attached to a cgroup through a BPF link; detached on deinit.
final class CgroupLink {
    private var link: OpaquePointer?

    init(_ object: BPFObject, program: String, cgroup: String = TestCgroup.root) throws {
        let prog = try object.program(program)
        let fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemCallError(call: "open(\(cgroup))", errno: errno) }
        defer { close(fd) }
        guard let link = bpf_program__attach_cgroup(prog, fd) else {
            throw BPFError(
                call: "bpf_program__attach_cgroup(\(program), \(cgroup))", errno: errno,
                log: LibbpfLog.take())
        }
        self.link = link
    }

    deinit { if let link { bpf_link__destroy(link) } }
}

/// What the program saw in one operation.
struct SkOpOutcome {
    var ret: Int64
    var value: SkOpsValue?
}

/// Drives `progs/sk_storage_ops.bpf.c`: each operation is a `setsockopt()`
/// at a private level on the socket it applies to; the program, attached to
/// the root cgroup (`cgroup/setsockopt`), runs it with the BPF helpers and
/// leaves the outcome in its globals.
final class SkOpsProgram {
    static let objectName = "sk_storage_ops"
    static let level: Int32 = 0x5354

    enum Op: Int32 {
        case get = 1
        case getCreate = 2
        case delete = 3
        case lockedAdd = 4
    }

    let object: BPFObject
    private let link: CgroupLink

    init(_ context: TestContext) throws {
        object = try BPFObject(path: context.objectPath(Self.objectName))
        link = try CgroupLink(object, program: "sk_storage_op")
    }

    func map(_ name: String) throws -> BPFMap { try object.map(name) }

    func u32(_ name: String) throws -> UInt32 { try object.global(name, as: UInt32.self).pointee }

    /// Runs `op` on `socket` from BPF and returns what the program saw.
    func run(_ op: Op, on socket: TestSocket, arg: UInt64 = 0) throws -> SkOpOutcome {
        let before = try u32("calls")
        let rc = socket.setOption(level: Self.level, name: op.rawValue, arg)
        if rc != 0 {
            throw TestStop.fail(
                "setsockopt(level 0x5354, op \(op)) on the \(socket.label) socket: expected 0 "
                    + "(the program handles it), got \(errnoName(rc))")
        }
        if try u32("calls") != before + 1 {
            throw TestStop.fail("the cgroup/setsockopt program did not run for op \(op)")
        }
        let found = try u32("last_found") != 0
        let value = SkOpsValue(
            magic: try object.global("last_magic", as: UInt64.self).pointee,
            generation: try object.global("last_generation", as: UInt64.self).pointee)
        return SkOpOutcome(
            ret: try object.global("last_ret", as: Int64.self).pointee,
            value: found ? value : nil)
    }
}

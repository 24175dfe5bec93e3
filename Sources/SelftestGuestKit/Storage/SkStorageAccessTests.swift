import CLibbpf
import Glibc

/// Socket storage access: from user space with each update flag, from BPF
/// with `bpf_sk_storage_get/delete`, and values guarded by a spin lock.
enum SkStorageAccessTests {
    static let bodies: [String: TestBody] = [
        "storage/sk/user_update_flags": { try userUpdateFlags($0) },
        "storage/sk/bpf_get_create_delete": { try bpfGetCreateDelete($0) },
        "storage/sk/spin_lock_value": { try spinLockValue($0) },
    ]

    static let any = UInt64(BPF_ANY)
    static let noexist = UInt64(BPF_NOEXIST)
    static let exist = UInt64(BPF_EXIST)
    static let lock = UInt64(BPF_F_LOCK)

    /// Every update flag's documented errno, keyed by socket fd, on a map
    /// made from user space.
    static func userUpdateFlags(_ context: TestContext) throws {
        let map = try BPFMap.localStorage(
            .sk, name: "sk_flags", valueSize: MemoryLayout<SkOpsValue>.size)
        let socket = try TestSocket.tcp()
        let what = "SK_STORAGE"
        func lookupErrno() -> Int32 { map.lookupErrno(socket.fd, as: SkOpsValue.self) }

        try context.expectEqual(
            errnoName(lookupErrno()), errnoName(ENOENT), "\(what) lookup on a new socket")
        try context.expectEqual(
            errnoName(map.update(socket.fd, SkOpsValue(generation: 1), flags: exist)),
            errnoName(ENOENT), "\(what) update BPF_EXIST on a socket without storage")
        try context.expectEqual(
            map.update(socket.fd, SkOpsValue(generation: 1), flags: noexist), 0,
            "\(what) update BPF_NOEXIST on a socket without storage: errno")
        try context.expectEqual(
            errnoName(map.update(socket.fd, SkOpsValue(generation: 9), flags: noexist)),
            errnoName(EEXIST), "\(what) update BPF_NOEXIST on an existing element")
        try context.expectEqual(
            try map.lookup(socket.fd, as: SkOpsValue.self).get().generation, 1,
            "generation after the refused BPF_NOEXIST update (must be unchanged)")
        try context.expectEqual(
            map.update(socket.fd, SkOpsValue(generation: 2), flags: exist), 0,
            "\(what) update BPF_EXIST on an existing element: errno")
        try context.expectEqual(
            try map.lookup(socket.fd, as: SkOpsValue.self).get(), SkOpsValue(generation: 2),
            "value after BPF_EXIST")
        try context.expectEqual(
            map.update(socket.fd, SkOpsValue(generation: 3), flags: any), 0,
            "\(what) update BPF_ANY on an existing element: errno")
        try context.expectEqual(
            try map.lookup(socket.fd, as: SkOpsValue.self).get(), SkOpsValue(generation: 3),
            "value after BPF_ANY")
        try context.expectEqual(
            errnoName(map.update(socket.fd, SkOpsValue(generation: 4), flags: exist | noexist)),
            errnoName(EINVAL), "\(what) update with BPF_EXIST|BPF_NOEXIST")
        try context.expectEqual(
            errnoName(map.update(socket.fd, SkOpsValue(generation: 4), flags: lock)),
            errnoName(EINVAL), "\(what) update BPF_F_LOCK on a value without a bpf_spin_lock")

        try context.expectEqual(map.delete(socket.fd), 0, "\(what) delete: errno")
        try context.expectEqual(
            errnoName(map.delete(socket.fd)), errnoName(ENOENT), "\(what) second delete")
        try context.expectEqual(
            errnoName(lookupErrno()), errnoName(ENOENT), "\(what) lookup after delete")

        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { throw SystemCallError(call: "pipe", errno: errno) }
        defer { fds.forEach { close($0) } }
        try context.expectEqual(
            errnoName(map.update(fds[0], SkOpsValue(generation: 5))), errnoName(ENOTSOCK),
            "\(what) update keyed by a pipe fd")
        let closed = try TestSocket.udp()
        let closedFD = closed.fd
        closed.close()
        try context.expectEqual(
            errnoName(map.update(closedFD, SkOpsValue(generation: 5))), errnoName(EBADF),
            "\(what) update keyed by a closed fd")
    }

    /// `bpf_sk_storage_get` creates with its initial value only when there
    /// is no element, user space and BPF see each other's writes, and
    /// `bpf_sk_storage_delete` removes the element and its charge.
    static func bpfGetCreateDelete(_ context: TestContext) throws {
        let program = try SkOpsProgram(context)
        let map = try program.map("sk_ops")
        let socket = try TestSocket.tcp()
        let baseline = try socket.optmem()

        try context.expect(
            try program.run(.get, on: socket).value == nil,
            "bpf_sk_storage_get without F_CREATE found an element on a new socket")
        let created = try program.run(.getCreate, on: socket, arg: 7)
        try context.expectEqual(
            created.value, SkOpsValue(generation: 7),
            "bpf_sk_storage_get(F_CREATE) result on a socket without storage")
        try context.expectEqual(
            try map.lookup(socket.fd, as: SkOpsValue.self).get(), SkOpsValue(generation: 7),
            "user-space lookup of the element BPF created")
        let charged = try socket.optmem()
        try context.expect(
            charged >= baseline + UInt32(MemoryLayout<SkOpsValue>.size),
            "optmem \(charged) after BPF created storage (baseline \(baseline))")

        try context.expectEqual(
            try program.run(.getCreate, on: socket, arg: 8).value, SkOpsValue(generation: 7),
            "bpf_sk_storage_get(F_CREATE) on an existing element (must return it unchanged)")
        try context.expectEqual(
            map.update(socket.fd, SkOpsValue(generation: 9), flags: exist), 0,
            "user-space update BPF_EXIST of the element BPF created: errno")
        try context.expectEqual(
            try program.run(.get, on: socket).value, SkOpsValue(generation: 9),
            "bpf_sk_storage_get after the user-space update")

        try context.expectEqual(
            try program.run(.delete, on: socket).ret, 0, "bpf_sk_storage_delete return")
        try context.expectEqual(
            errnoName(map.lookupErrno(socket.fd, as: SkOpsValue.self)), errnoName(ENOENT),
            "user-space lookup after bpf_sk_storage_delete")
        try context.expectEqual(
            try socket.optmem(), baseline, "optmem after bpf_sk_storage_delete")
        try context.expectEqual(
            try program.run(.delete, on: socket).ret, Int64(-ENOENT),
            "bpf_sk_storage_delete of a deleted element")
        try context.expect(
            try program.run(.get, on: socket).value == nil,
            "bpf_sk_storage_get found an element after its delete")
        try context.expectEqual(
            map.update(socket.fd, SkOpsValue(generation: 10), flags: noexist), 0,
            "user-space BPF_NOEXIST after bpf_sk_storage_delete: errno")
        context.log("optmem: baseline \(baseline), \(charged) with the element BPF created")
    }
}

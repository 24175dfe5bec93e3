import CLibbpf
import Glibc
import SelftestCatalog

/// Mirrors `struct sk_destroy_record` in `progs/sk_storage_watch.bpf.c` and
/// `progs/storage_race.bpf.c` (16 bytes): what `bpf_sk_storage_free()` found.
struct SkDestroyRecord: Equatable {
    var omemAtEntry: Int32 = -1
    var elemsAtEntry: UInt32 = 0
    var omemAtExit: Int32 = -1
    var done: UInt32 = 0
}

/// The option-memory family beyond one element: the `optmem_max` limit,
/// and many maps on many sockets torn down in both orders.
enum SkStorageFamilyTests {
    static let bodies: [String: TestBody] = [
        "storage/sk/omem_refused_over_optmem_max": { try refusedOverOptmemMax($0) },
        "storage/sk/omem_many_maps_many_sockets": { try manyMapsManySockets($0) },
        "storage/sk/clone_to_accepted": { try cloneToAccepted($0) },
    ]

    static let boundSeconds = 5.0

    /// Storage that would take a socket's option memory to `optmem_max` is
    /// refused with ENOMEM and leaves nothing charged; freeing an element
    /// makes room again; freeing the maps returns the socket to baseline.
    static func refusedOverOptmemMax(_ context: TestContext) throws {
        guard let text = FD.readFile("/proc/sys/net/core/optmem_max"),
            let limit = Int(text.trimming("\n\r ", leading: false))
        else { throw context.fail("cannot read /proc/sys/net/core/optmem_max") }
        let valueSize = min(limit / 5, 32768)
        let socket = try TestSocket.tcp()
        let baseline = Int(try socket.optmem())
        let bytes = [UInt8](repeating: 0x5a, count: valueSize)
        var maps: [BPFMap] = []
        var levels = [baseline]

        for index in 0..<12 {
            let map = try BPFMap.localStorage(.sk, name: "sk_optmem\(index)", valueSize: valueSize)
            let before = Int(try socket.optmem())
            let rc = map.update(fd: socket.fd, bytes: bytes, flags: UInt64(BPF_NOEXIST))
            let after = Int(try socket.optmem())
            if rc == 0 {
                maps.append(map)
                levels.append(after)
                continue
            }
            try context.expectEqual(
                errnoName(rc), errnoName(ENOMEM),
                "SK_STORAGE update of \(valueSize) bytes at optmem \(before), optmem_max "
                    + "\(limit)")
            try context.expectEqual(after, before, "optmem after the refused update")
            try context.expectEqual(
                errnoName(map.lookupErrno(fd: socket.fd, valueSize: valueSize)),
                errnoName(ENOENT),
                "lookup of the refused element")
            try context.expect(maps.count >= 2, "only \(maps.count) element(s) fit")
            let element = levels[2] - levels[1]
            try context.expect(
                before + element >= limit,
                "refused at optmem \(before) although an element of \(element) bytes fits "
                    + "under optmem_max \(limit)")
            context.log(
                "optmem_max \(limit): \(maps.count) elements of \(valueSize) bytes accepted "
                    + "(charge \(element) each), optmem \(before), the next refused")

            try context.expectEqual(maps[0].delete(socket.fd), 0, "delete of the first element")
            try context.expectEqual(
                map.update(fd: socket.fd, bytes: bytes, flags: UInt64(BPF_NOEXIST)), 0,
                "errno of the refused update retried after a delete made room")
            maps.append(map)
            for map in maps { map.close() }
            try waitForOptmem(context, [socket], [baseline], "after freeing every map")
            return
        }
        throw context.fail(
            "no update was refused: optmem \(try socket.optmem()) after \(maps.count) "
                + "elements of \(valueSize) bytes, optmem_max \(limit)")
    }

    /// Waits until each socket's option memory equals its expected value.
    static func waitForOptmem(
        _ context: TestContext, _ sockets: [TestSocket], _ expected: [Int], _ when: String
    ) throws {
        var last: [Int] = []
        let reached = try context.waitUntil(seconds: boundSeconds) {
            last = try sockets.map { Int(try $0.optmem()) }
            return last == expected
        }
        if !reached {
            throw context.fail(
                "optmem \(when): expected \(expected), still \(last) after \(boundSeconds) s "
                    + "(an element lingering keeps its charge)")
        }
    }

    /// Storage on a listening socket is copied to the accepted socket for a
    /// map with `BPF_F_CLONE` (also a spin-lock value), and only for it.
    static func cloneToAccepted(_ context: TestContext) throws {
        let object = try BPFObject(path: context.objectPath(SkOpsProgram.objectName))
        let locked = try object.map("sk_locked_clone")
        let size = MemoryLayout<SkOpsValue>.size
        let cloned = try BPFMap.localStorage(
            .sk, name: "sk_clone", valueSize: size, flags: UInt32(BPF_F_CLONE))
        let plain = try BPFMap.localStorage(.sk, name: "sk_noclone", valueSize: size)
        let (listener, port) = try TestSocket.loopbackListener()
        try context.expectEqual(
            cloned.update(listener.fd, SkOpsValue(generation: 41)), 0,
            "update of the BPF_F_CLONE map on the listener")
        try context.expectEqual(
            plain.update(listener.fd, SkOpsValue(generation: 42)), 0,
            "update of the map without BPF_F_CLONE on the listener")
        try context.expectEqual(
            locked.update(listener.fd, SkLockedValue(a: 7, b: 7), flags: UInt64(BPF_F_LOCK)), 0,
            "BPF_F_LOCK update of the BPF_F_CLONE spin-lock map on the listener")

        let connection = try listener.connectAndAccept(port: port)
        let accepted = connection.accepted
        try context.expectEqual(
            try cloned.lookup(accepted.fd, as: SkOpsValue.self).get(), SkOpsValue(generation: 41),
            "BPF_F_CLONE map: value on the accepted socket")
        try context.expectEqual(
            errnoName(plain.lookupErrno(accepted.fd, as: SkOpsValue.self)), errnoName(ENOENT),
            "map without BPF_F_CLONE: lookup on the accepted socket")
        let copy = try locked.lookup(accepted.fd, as: SkLockedValue.self, flags: UInt64(BPF_F_LOCK))
            .get()
        try context.expectEqual(
            [copy.a, copy.b], [7, 7], "BPF_F_CLONE spin-lock map: value on the accepted socket")
        try context.expectEqual(
            errnoName(cloned.lookupErrno(connection.client.fd, as: SkOpsValue.self)),
            errnoName(ENOENT), "BPF_F_CLONE map: lookup on the connecting (client) socket")
        let charged = try accepted.optmem()
        try context.expect(
            charged >= UInt32(size + MemoryLayout<SkLockedValue>.size),
            "accepted socket's optmem \(charged) does not cover its two cloned elements")

        try context.expectEqual(
            cloned.update(listener.fd, SkOpsValue(generation: 50), flags: UInt64(BPF_EXIST)), 0,
            "update of the listener's element after the accept")
        try context.expectEqual(
            try cloned.lookup(accepted.fd, as: SkOpsValue.self).get().generation, 41,
            "accepted socket's generation after the listener's changed (a copy, not shared)")
        try context.expectEqual(cloned.delete(accepted.fd), 0, "delete of the cloned element")
        try context.expectEqual(locked.delete(accepted.fd), 0, "delete of the cloned lock value")
        try context.expectEqual(
            try accepted.optmem(), 0, "accepted socket's optmem after deleting its clones")
        try context.expectEqual(
            try cloned.lookup(listener.fd, as: SkOpsValue.self).get().generation, 50,
            "listener's element after the clone was deleted")
        context.log("accepted socket: optmem \(charged) with 2 cloned elements, 0 after delete")
    }
}

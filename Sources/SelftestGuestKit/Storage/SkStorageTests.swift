import CLibbpf
import Glibc

/// The value the tests store on a socket; mirrors `struct sk_value` in
/// `progs/sk_storage_omem.bpf.c` (48 bytes, all `u64`, so no padding).
struct SkValue: Equatable {
    static let magic: UInt64 = 0x736b_7374_6f72_6167  // "skstorag"
    static let size = MemoryLayout<SkValue>.size

    var magic = SkValue.magic
    var cookie: UInt64
    var generation: UInt64 = 1
    var reserved0: UInt64 = 0
    var reserved1: UInt64 = 0
    var reserved2: UInt64 = 0
}

/// The globals through which the programs on `bpf_sk_storage_free()` report
/// what they saw when the watched socket was destroyed.
struct DestroyProbe {
    let object: BPFObject

    func u32(_ name: String) throws -> UInt32 { try object.global(name, as: UInt32.self).pointee }
    func s32(_ name: String) throws -> Int32 { try object.global(name, as: Int32.self).pointee }

    /// Clears what a previous socket left and starts watching `cookie`.
    func watch(cookie: UInt64) throws {
        for name in ["entry_calls", "seen_storage", "seen_value", "exit_calls", "done"] {
            try object.global(name, as: UInt32.self).pointee = 0
        }
        try object.global("omem_at_entry", as: Int32.self).pointee = -1
        try object.global("omem_at_exit", as: Int32.self).pointee = -1
        try object.global("target_cookie", as: UInt64.self).pointee = cookie
    }
}

/// Socket local storage is charged to the socket's option memory
/// (`sk_omem_alloc`, `SK_MEMINFO_OPTMEM`); these tests prove the charge is
/// returned on delete, on socket destroy, and when the map goes away first.
enum SkStorageTests {
    static let objectName = "sk_storage_omem"
    /// How long the kernel may take to destroy a socket or free a map (both
    /// wait for RCU; map free also runs from a workqueue).
    static let boundSeconds = 5.0

    static let bodies: [String: TestBody] = [
        "storage/sk/omem_charge_delete": { try chargeDelete($0) },
        "storage/sk/omem_uncharge_on_close": { try unchargeOnClose($0) },
        "storage/sk/omem_uncharge_on_map_free": { try unchargeOnMapFree($0) },
    ]

    /// Update from user space charges at least the value; overwriting keeps
    /// the charge; delete returns the socket to its baseline exactly.
    static func chargeDelete(_ context: TestContext) throws {
        try context.expectEqual(SkValue.size, 48, "size of SkValue (must match struct sk_value)")
        let object = try BPFObject(path: context.objectPath(objectName))
        let map = try object.map("sk_storage")
        let socket = try TestSocket.tcp()
        let baseline = try socket.optmem()
        var value = SkValue(cookie: try socket.cookie())

        try context.expectEqual(
            map.update(socket.fd, value, flags: UInt64(BPF_NOEXIST)), 0,
            "errno of the first update of the socket's storage")
        let charged = try socket.optmem()
        context.log("optmem: baseline \(baseline), \(charged) with one element")
        try context.expect(
            charged >= baseline + UInt32(SkValue.size),
            "optmem \(charged) after the update (baseline \(baseline)): expected at least "
                + "\(SkValue.size) bytes (the value) more")
        try context.expectEqual(
            try map.lookup(socket.fd, as: SkValue.self).get(), value,
            "value looked up after the update")

        value.generation = 2
        try context.expectEqual(
            map.update(socket.fd, value, flags: UInt64(BPF_EXIST)), 0,
            "errno of overwriting the element")
        try context.expectEqual(
            try socket.optmem(), charged, "optmem after overwriting the element (same size)")

        try context.expectEqual(map.delete(socket.fd), 0, "errno of deleting the element")
        try context.expectEqual(
            try socket.optmem(), baseline, "optmem after deleting the only element")
        if case .failure(let error) = map.lookup(socket.fd, as: SkValue.self) {
            try context.expectEqual(error.errno, ENOENT, "errno of a lookup after the delete")
        } else {
            throw context.fail("the element can still be looked up after its delete")
        }
    }

    /// Programs on `bpf_sk_storage_free()` see, for a TCP and a UDP socket
    /// closed with storage, the storage and its charge at entry, and the
    /// socket's option memory at zero at exit.
    static func unchargeOnClose(_ context: TestContext) throws {
        let object = try BPFObject(path: context.objectPath(objectName))
        let map = try object.map("sk_storage")
        let probe = DestroyProbe(object: object)
        try object.attach("storage_free_entry")
        try object.attach("storage_free_exit")
        context.runCase("tcp") { try closeWithStorage(context, map, probe, try TestSocket.tcp()) }
        context.runCase("udp") { try closeWithStorage(context, map, probe, try TestSocket.udp()) }
    }

    static func closeWithStorage(
        _ context: TestContext, _ map: BPFMap, _ probe: DestroyProbe, _ socket: TestSocket
    ) throws {
        let label = socket.label
        let cookie = try socket.cookie()
        let baseline = try socket.optmem()
        try context.expectEqual(
            map.update(socket.fd, SkValue(cookie: cookie)), 0,
            "errno of adding storage to the \(label) socket")
        let charged = try socket.optmem()
        try context.expect(
            charged > baseline, "optmem \(charged) did not grow from \(baseline) with storage")

        try probe.watch(cookie: cookie)
        let closedAt = Clock.now()
        socket.close()
        let finished = try context.waitUntil(seconds: boundSeconds) { try probe.u32("done") != 0 }
        let ms = Int((Clock.now() - closedAt) * 1000)
        if !finished {
            throw context.fail(
                "bpf_sk_storage_free() did not return for the closed \(label) socket within "
                    + "\(ms) ms (entry seen \(try probe.u32("entry_calls")) times)")
        }
        let atEntry = try probe.s32("omem_at_entry")
        let atExit = try probe.s32("omem_at_exit")
        context.log(
            "\(label): optmem \(baseline) -> \(charged) with storage; in bpf_sk_storage_free() "
                + "\(atEntry) at entry, \(atExit) at exit, \(ms) ms after close")

        try context.expectEqual(
            try probe.u32("entry_calls"), 1, "calls of bpf_sk_storage_free() for the socket")
        try context.expect(
            try probe.u32("seen_storage") == 1,
            "at entry to bpf_sk_storage_free() the \(label) socket had no storage "
                + "(sk_bpf_storage was NULL)")
        try context.expect(
            try probe.u32("seen_value") == 1,
            "the \(label) socket's storage did not hold the value the test stored")
        try context.expect(
            atEntry >= Int32(charged - baseline),
            "sk_omem_alloc was \(atEntry) at entry to bpf_sk_storage_free(); the storage "
                + "was charged \(charged - baseline) bytes")
        try context.expectEqual(
            atExit, 0, "sk_omem_alloc of the \(label) socket at exit from bpf_sk_storage_free()")
    }

    /// Freeing the map while the socket lives unlinks its element and
    /// uncharges it: for a map made with `bpf_map_create` (one fd to close)
    /// and for the map of a loaded object (closing the object frees it).
    static func unchargeOnMapFree(_ context: TestContext) throws {
        context.runCase("bpf_map_create") { try freeMapUnderSocket(context, fromObject: false) }
        context.runCase("bpf_object") { try freeMapUnderSocket(context, fromObject: true) }
    }

    static func freeMapUnderSocket(_ context: TestContext, fromObject: Bool) throws {
        let socket = try TestSocket.tcp()
        let baseline = try socket.optmem()
        var object: BPFObject?
        let map: BPFMap
        if fromObject {
            let loaded = try BPFObject(path: context.objectPath(objectName))
            map = try loaded.map("sk_storage")
            object = loaded
        } else {
            map = try BPFMap.socketStorage(name: "sk_omem_free", valueSize: SkValue.size)
        }
        try context.expectEqual(
            map.update(socket.fd, SkValue(cookie: try socket.cookie())), 0,
            "errno of adding storage to the socket")
        let charged = try socket.optmem()
        try context.expect(
            charged >= baseline + UInt32(SkValue.size),
            "optmem \(charged) after the update (baseline \(baseline)): expected at least "
                + "\(SkValue.size) bytes more")

        // Drop every reference this process holds; the kernel frees the map
        // from a workqueue once the last one is gone (after RCU).
        map.close()
        object?.close()
        object = nil
        let freedAt = Clock.now()
        var last = charged
        let back = try context.waitUntil(seconds: boundSeconds) {
            last = try socket.optmem()
            return last == baseline
        }
        let ms = Int((Clock.now() - freedAt) * 1000)
        if !back {
            throw context.fail(
                "optmem stayed at \(last) (baseline \(baseline)) \(ms) ms after the map was "
                    + "freed: element lingering")
        }
        let label = fromObject ? "bpf_object" : "bpf_map_create"
        context.log(
            "\(label): optmem \(charged) -> \(last) (baseline) \(ms) ms after the map was freed")
    }
}

import CLibbpf
import Glibc

/// The `watched` map of `progs/sk_storage_watch.bpf.c` (and of
/// `storage_race.bpf.c`): sockets by cookie, and what their destroy found.
struct SkDestroyWatch {
    let map: BPFMap

    func watch(_ sockets: [TestSocket]) throws {
        for socket in sockets {
            let rc = map.update(try socket.cookie(), SkDestroyRecord())
            if rc != 0 { throw TestStop.fail("adding a cookie to watched: \(errnoName(rc))") }
        }
    }

    func record(_ cookie: UInt64) -> SkDestroyRecord? {
        try? map.lookup(cookie, as: SkDestroyRecord.self).get()
    }

    /// Waits until every cookie's socket went through `bpf_sk_storage_free()`.
    /// Waits until `bpf_sk_storage_free()` has finished for every socket in
    /// `cookies`; fails the test past `seconds`.
    func requireDone(_ context: TestContext, _ cookies: [UInt64], seconds: Double) throws {
        let done = context.waitUntil(seconds: seconds) {
            cookies.allSatisfy { (record($0)?.done ?? 0) > 0 }
        }
        if !done {
            throw context.fail(
                "bpf_sk_storage_free() did not finish for every closed socket within "
                    + "\(seconds) s")
        }
    }
}

extension SkStorageFamilyTests {
    static let manyMaps = 4
    static let manySockets = 8

    /// Four maps with an element on each of eight sockets (TCP and UDP),
    /// torn down maps first and sockets first: every living socket's option
    /// memory follows its elements back to baseline, and every destroyed
    /// socket ends with no option memory and, once the maps are gone, no
    /// element left to free.
    static func manyMapsManySockets(_ context: TestContext) throws {
        let object = try BPFObject(path: context.objectPath("sk_storage_watch"))
        try object.attach("watch_free_entry")
        try object.attach("watch_free_exit")
        let watch = SkDestroyWatch(map: try object.map("watched"))
        context.runCase("maps_first") { try teardown(context, watch, mapsFirst: true) }
        context.runCase("sockets_first") { try teardown(context, watch, mapsFirst: false) }
    }

    static func teardown(_ context: TestContext, _ watch: SkDestroyWatch, mapsFirst: Bool) throws {
        let sockets = try (0..<manySockets).map { try $0 % 2 == 0 ? TestSocket.tcp() : .udp() }
        let baselines = try sockets.map { Int(try $0.optmem()) }
        var maps: [BPFMap] = []
        // levels[k][s]: socket s's option memory with k elements.
        var levels = [baselines]
        for index in 0..<manyMaps {
            let map = try BPFMap.localStorage(.sk, name: "sk_many\(index)", valueSize: 64)
            for socket in sockets {
                let rc = map.update(fd: socket.fd, bytes: [UInt8](repeating: 1, count: 64))
                if rc != 0 {
                    throw context.fail(
                        "update of map \(index) on the \(socket.label) socket: \(errnoName(rc))")
                }
            }
            maps.append(map)
            levels.append(try sockets.map { Int(try $0.optmem()) })
        }
        try watch.watch(sockets)
        let cookies = try sockets.map { try $0.cookie() }

        if mapsFirst {
            for map in maps[(manyMaps / 2)...] { map.close() }
            try waitForOptmem(context, sockets, levels[manyMaps / 2], "after freeing half the maps")
            for map in maps[..<(manyMaps / 2)] { map.close() }
            try waitForOptmem(context, sockets, baselines, "after freeing every map")
            for socket in sockets { socket.close() }
            try expectDestroyed(context, watch, cookies, elements: 0)
            context.log("maps first: optmem \(levels.last ?? []) -> \(baselines), then closed")
            return
        }

        let half = manySockets / 2
        for socket in sockets[..<half] { socket.close() }
        try expectDestroyed(context, watch, Array(cookies[..<half]), elements: UInt32(manyMaps))
        for map in maps { map.close() }
        let survivors = Array(sockets[half...])
        try waitForOptmem(
            context, survivors, Array(baselines[half...]),
            "of the surviving sockets after freeing every map")
        for socket in survivors { socket.close() }
        try expectDestroyed(context, watch, Array(cookies[half...]), elements: 0)
        context.log("sockets first: \(half) closed with \(manyMaps) elements each, then the maps")
    }

    /// Each socket went through `bpf_sk_storage_free()` with `elements`
    /// still linked and ended with no option memory.
    static func expectDestroyed(
        _ context: TestContext, _ watch: SkDestroyWatch, _ cookies: [UInt64], elements: UInt32
    ) throws {
        try watch.requireDone(context, cookies, seconds: boundSeconds)
        for cookie in cookies {
            let record = watch.record(cookie) ?? SkDestroyRecord()
            try context.expectEqual(
                record.elemsAtEntry, elements,
                "elements on socket \(cookie) at bpf_sk_storage_free() (a freed map's "
                    + "element must not linger)")
            try context.expectEqual(
                record.omemAtExit, 0, "sk_omem_alloc of socket \(cookie) after its storage")
        }
    }
}

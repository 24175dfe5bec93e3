import CLibbpf
import Glibc

/// The race the local-storage series is about: `map_free` against the
/// owner's destroy, repeated for a bounded time.
enum StorageRaceTests {
    static let bodies: [String: TestBody] = [
        "storage/race/map_free_vs_owner_destroy": { try mapFreeVsOwnerDestroy($0) }
    ]

    static let seconds = 3.0
    static let maxRounds = 12
    static let boundSeconds = 10.0
    /// Pages a CPU may keep charged to the memory cgroup with nothing
    /// allocated: the kernel charges in batches of MEMCG_CHARGE_BATCH (64)
    /// pages and keeps the rest as that CPU's stock, and a freed page goes
    /// back to the stock, not off `memory.current`; the byte-level object
    /// stock holds up to a page more. Any reading, even of `memory.current`
    /// itself (its buffer is charged), can leave a CPU's stock full. A
    /// tolerance of one CPU's worth (256 KiB) failed by one page on 2 vCPUs
    /// (65 pages above baseline, once, with a second guest on a loaded
    /// host). The kernel's own cgroup selftest allows the same per CPU
    /// (`MAX_VMSTAT_ERROR` in tools/testing/selftests/cgroup/test_kmem.c).
    static let stockPagesPerCPU = 64 + 1

    /// How far above its baseline the memory cgroup may end: every online
    /// CPU's stock.
    static func toleranceBytes(cpus: Int) -> Int { cpus * stockPagesPerCPU * 4096 }

    /// Rounds at least, so that leaking every element still fails: a round
    /// charges 36 elements of 4 KiB values (8 KiB slabs each, 288 KiB), so
    /// two rounds per CPU charge more than twice the tolerance.
    static func minRounds(cpus: Int) -> Int { max(4, 2 * cpus) }

    /// Sockets, tasks and cgroups each hold an element in one map per kind;
    /// one thread frees the maps while another destroys half the owners.
    /// After each round: the surviving sockets are back at their baseline
    /// option memory, every destroyed socket ended with none, and the ones
    /// destroyed after the race found no element of the freed map left. At
    /// the end the memory cgroup the test ran in is back at its baseline.
    static func mapFreeVsOwnerDestroy(_ context: TestContext) throws {
        var withCgroups = true
        do {
            try LocalStorageProbe.require(.cgrp, context)
        } catch TestStop.skip(let reason) {
            withCgroups = false
            context.log("without cgroup owners: \(reason)")
        }
        let object = try BPFObject(path: context.objectPath("storage_race"))
        for program in ["map_free_exit", "watch_free_entry", "watch_free_exit"] {
            try object.attach(program)
        }
        let watch = SkDestroyWatch(map: try object.map("watched"))
        func mapsFreed() throws -> Int {
            Int(try object.global("maps_freed", as: UInt64.self).pointee)
        }
        let memcg = try StorageMemcg("selftests-race-\(getpid())")
        defer { memcg.leave() }
        var dropped = 0

        func round(_ index: Int) throws {
            let outcome = try StorageRaceRound(
                context: context, index: index, watch: watch, parent: memcg.cgroup.path,
                withCgroups: withCgroups
            ).run()
            dropped += outcome.maps
            try expectDestroyed(context, watch, outcome.destroyedCookies, survivors: false)
            try expectDestroyed(context, watch, outcome.survivorCookies, survivors: true)
        }
        func waitMapsFreed() throws {
            if !(try context.waitUntil(seconds: boundSeconds) { try mapsFreed() >= dropped }) {
                throw context.fail(
                    "only \(try mapsFreed()) of the \(dropped) dropped maps finished "
                        + "bpf_local_storage_map_free() within \(boundSeconds) s")
            }
        }

        // A first round warms the caches the later ones reuse.
        try round(0)
        try waitMapsFreed()
        let baseline = try memcg.current()
        let cpus = Libc.onlineCPUs().count
        let minRounds = Self.minRounds(cpus: cpus)
        let maxRounds = max(Self.maxRounds, minRounds)
        let toleranceBytes = Self.toleranceBytes(cpus: cpus)
        let started = Clock.now()
        var rounds = 1
        while rounds <= maxRounds && (rounds <= minRounds || Clock.now() - started < seconds) {
            try round(rounds)
            rounds += 1
        }
        let peak = try memcg.current()
        try waitMapsFreed()
        var last = peak
        let settled = try context.waitUntil(seconds: boundSeconds, intervalMs: 50) {
            last = try memcg.current()
            return last <= baseline + toleranceBytes
        }
        context.log(
            "\(rounds - 1) rounds in \(Int((Clock.now() - started) * 1000)) ms "
                + "(\(withCgroups ? "sockets, tasks, cgroups" : "sockets, tasks")); "
                + "memory.current \(baseline) at baseline, \(peak) after the rounds, \(last) "
                + "once the maps were freed")
        if !settled {
            throw context.fail(
                "memory.current \(last) is \(last - baseline) bytes above its baseline "
                    + "\(baseline) \(boundSeconds) s after every map was freed (tolerance "
                    + "\(toleranceBytes), the charge stock of \(cpus) CPUs): storage elements "
                    + "still charged")
        }
    }

    /// Destroyed sockets ended with no option memory; sockets destroyed after
    /// their map was freed also found no element of it left.
    static func expectDestroyed(
        _ context: TestContext, _ watch: SkDestroyWatch, _ cookies: [UInt64], survivors: Bool
    ) throws {
        try watch.requireDone(context, cookies, seconds: boundSeconds)
        for cookie in cookies {
            let record = watch.record(cookie) ?? SkDestroyRecord()
            try context.expectEqual(
                record.omemAtExit, 0, "sk_omem_alloc of socket \(cookie) after its storage")
            if survivors {
                try context.expectEqual(
                    record.elemsAtEntry, 0,
                    "elements on socket \(cookie), closed after its map was freed (an element "
                        + "of a freed map lingering)")
            }
        }
    }
}

import SelftestCatalog

/// Memory accounting: what maps cost, measured in a memory cgroup, against
/// what the kernel reports in `memlock` and the naive estimate.
///
/// Each case logs one `measure: {json}` line, from which `selftests memory`
/// builds its table, and asserts that reported/measured stays within the
/// bound for its kind of map (`RatioBound`) and that freeing returns the
/// cgroup to where it started.
enum MemoryTests {
    static let bodies: [String: TestBody] = [
        "memory/hash/cost": { try maps($0, hashCases) },
        "memory/array/cost": { try maps($0, arrayCases) },
        "memory/ringbuf/cost": { try maps($0, ringbufCases) },
        "memory/storage/sk": { try storage($0, .socket, owners: 256) },
        "memory/storage/task": { try storage($0, .task, owners: 64) },
        "memory/storage/cgrp": { try storage($0, .cgroup, owners: 256) },
        "memory/large/published": { try maps($0, [.hash(4, 4, 1 << 20)]) },
        "memory/large/hash": { try maps($0, largeHashCases) },
        "memory/large/array": { try maps($0, largeArrayCases) },
        "memory/large/storage": { try largeStorage($0) },
    ]

    static let hashCases: [MapCase] = [
        .hash(4, 4, 1024), .hash(4, 4, 65536), .hash(64, 256, 1024),
        .hash(4, 4, 1024, prealloc: false), .hash(4, 4, 65536, prealloc: false),
        .percpuHash(4, 8, 1024), .percpuHash(4, 8, 1024, prealloc: false),
        .lruHash(4, 4, 1024), .lruHash(4, 4, 65536), .lruPercpuHash(4, 8, 1024),
    ]

    static let arrayCases: [MapCase] = [
        .array(4, 1024), .array(4, 65536), .array(256, 1024),
        .percpuArray(8, 1024), .percpuArray(8, 65536),
    ]

    static let ringbufCases: [MapCase] = [.ringbuf(65536), .ringbuf(1 << 20)]

    static let largeHashCases: [MapCase] = [
        .hash(4, 4, 1 << 20, prealloc: false), .hash(64, 256, 65536),
        .percpuHash(4, 8, 1 << 20), .lruHash(4, 4, 1 << 20), .lruPercpuHash(4, 8, 1 << 20),
    ]

    static let largeArrayCases: [MapCase] = [
        .array(4, 1 << 20), .percpuArray(8, 1 << 20), .ringbuf(16 << 20),
    ]

    /// Measures each map; a case that breaks a bound fails alone.
    static func maps(_ context: TestContext, _ cases: [MapCase]) throws {
        for spec in cases {
            context.runCase(spec.label) {
                try check(context, try MapCost.measure(context, spec))
            }
        }
    }

    static func storage(_ context: TestContext, _ kind: StorageOwners.Kind, owners: Int) throws {
        for freeOwnersFirst in [false, true] {
            let spec = StorageCase(kind: kind, owners: owners, freeOwnersFirst: freeOwnersFirst)
            context.runCase(spec.label) {
                try check(context, try StorageCost.measure(context, spec))
            }
        }
    }

    static func largeStorage(_ context: TestContext) throws {
        try storage(context, .socket, owners: 4096)
        try storage(context, .task, owners: 1024)
        try storage(context, .cgroup, owners: 4096)
    }

    /// The assertions every case shares.
    static func check(_ context: TestContext, _ m: MapMeasurement) throws {
        let what =
            "\(m.type) \(m.prealloc ? "preallocated" : "BPF_F_NO_PREALLOC") "
            + "key \(m.keySize) value \(m.valueSize) × \(m.entries)"
        try context.expect(
            m.measured > 0, "\(what): the cgroup was charged \(m.measured) bytes for the map")
        let bound = RatioBound.of(m)
        let ratio = (bound.ratio(m) * 1000).rounded() / 1000
        let less = bound.unchargedBytes > 0 ? " less \(bound.unchargedBytes) uncharged" : ""
        try context.expect(
            bound.contains(m),
            "\(what): reported/measured \(ratio) (memlock \(m.reported)\(less), cgroup "
                + "\(m.measured)) is outside [\(bound.low), \(bound.high)] (\(bound.why))"
                + (bound.slackBytes > 0
                    ? " and they differ by more than \(bound.slackBytes) bytes" : ""))
        // The machine must have seen what the cgroup was charged: from 1 MiB
        // up (below, other slab activity drowns it), /proc/meminfo's slab +
        // per-CPU + vmalloc grew by 93-105% of the charge on 6.12 (slab pages
        // against object charges), more for per-CPU maps whose values no
        // cgroup is charged for. Ring buffer pages are plain pages mapped
        // with vmap(), which none of those counters shows.
        if m.type != "RINGBUF" && m.measured >= 1 << 20 {
            try context.expect(
                m.meminfoKernel >= m.measured / 10 * 8,
                "\(what): /proc/meminfo slab+percpu+vmalloc grew by \(m.meminfoKernel) bytes, "
                    + "less than 80% of the \(m.measured) bytes charged to the cgroup")
        }
        let slack = ResidueBound.bytes(cpus: m.cpus)
        if let left = m.ownerResidue {
            // Socket storage is kmalloc'ed and freed after RCU: all of it
            // returns. Task and cgroup storage come from the map's
            // bpf_mem_alloc caches, which keep freed elements charged until
            // the map goes (on 6.12: 24576 of 36864 bytes for 64 tasks, 102400
            // of 114688 for 256 cgroups).
            let allowed = m.type == "SK_STORAGE" ? slack : m.measured - m.created + slack
            try context.expect(
                left <= allowed,
                "\(what): \(left) bytes still charged once the \(m.entries) owners were freed "
                    + "(allowed \(allowed)): elements lingering")
        }
        try context.expect(
            m.residue <= slack,
            "\(what): \(m.residue) bytes still charged \(m.freeMs) ms after the "
                + "\(m.freed) was freed (allowed \(slack))")
    }
}

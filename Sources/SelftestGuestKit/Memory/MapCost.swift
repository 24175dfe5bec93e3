import CLibbpf
import Glibc
import SelftestCatalog

/// One map to measure: its type, sizes and whether it is preallocated.
struct MapCase {
    var type: bpf_map_type
    /// The type's name without `BPF_MAP_TYPE_`.
    var typeName: String
    var keySize: Int
    var valueSize: Int
    var entries: Int
    var prealloc = true

    var isPerCPU: Bool { typeName.hasPrefix("PERCPU") || typeName.hasPrefix("LRU_PERCPU") }
    var isRingbuf: Bool { typeName == "RINGBUF" }

    var label: String {
        let mode = prealloc ? "prealloc" : "no_prealloc"
        return "\(typeName.lowercased())_\(mode)_\(keySize)_\(valueSize)_\(entries)"
    }

    var flags: UInt32 { prealloc ? 0 : UInt32(BPF_F_NO_PREALLOC) }

    static func hash(_ key: Int, _ value: Int, _ entries: Int, prealloc: Bool = true) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_HASH, typeName: "HASH", keySize: key, valueSize: value,
            entries: entries, prealloc: prealloc)
    }

    static func percpuHash(_ key: Int, _ value: Int, _ entries: Int, prealloc: Bool = true)
        -> MapCase
    {
        MapCase(
            type: BPF_MAP_TYPE_PERCPU_HASH, typeName: "PERCPU_HASH", keySize: key,
            valueSize: value, entries: entries, prealloc: prealloc)
    }

    static func lruHash(_ key: Int, _ value: Int, _ entries: Int) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_LRU_HASH, typeName: "LRU_HASH", keySize: key, valueSize: value,
            entries: entries)
    }

    static func lruPercpuHash(_ key: Int, _ value: Int, _ entries: Int) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_LRU_PERCPU_HASH, typeName: "LRU_PERCPU_HASH", keySize: key,
            valueSize: value, entries: entries)
    }

    static func array(_ value: Int, _ entries: Int) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_ARRAY, typeName: "ARRAY", keySize: 4, valueSize: value,
            entries: entries)
    }

    static func percpuArray(_ value: Int, _ entries: Int) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_PERCPU_ARRAY, typeName: "PERCPU_ARRAY", keySize: 4,
            valueSize: value, entries: entries)
    }

    /// A ring buffer of `bytes` (a power-of-two number of pages); it has no
    /// keys or values, so its naive estimate is its data size.
    static func ringbuf(_ bytes: Int) -> MapCase {
        MapCase(
            type: BPF_MAP_TYPE_RINGBUF, typeName: "RINGBUF", keySize: 0, valueSize: 0,
            entries: bytes)
    }
}

/// Creates, fills and frees maps inside a fresh memory cgroup, and measures.
enum MapCost {
    /// How long freeing may take to show in the cgroup: maps are freed from
    /// a workqueue after an RCU grace period, and elements after another,
    /// some through kfree_rcu(), which batches for up to 5 s. Observed: at
    /// most 6.5 s (1M-entry maps under TCG). Waiting costs nothing unless
    /// something lingers.
    static let freeBoundSeconds = 20.0
    /// Elements per `BPF_MAP_UPDATE_BATCH` call.
    static let batchSize = 16384

    static var possibleCPUs: Int { Libc.possibleCPUs().count }

    static func measure(_ context: TestContext, _ spec: MapCase) throws -> MapMeasurement {
        let cpus = possibleCPUs
        var result = MapMeasurement(
            label: spec.label, type: spec.typeName, prealloc: spec.prealloc,
            keySize: spec.keySize, valueSize: spec.valueSize, entries: spec.entries,
            elements: spec.isRingbuf ? 0 : spec.entries, cpus: cpus)
        if spec.isRingbuf { result.naive = spec.entries }
        // Buffers are made and touched before joining, so that the cgroup is
        // charged for the map and not for this process's own pages.
        let batch = spec.isRingbuf ? nil : FillBatch(spec, cpus: cpus)

        let cgroup = try MemoryCgroup("memory")
        try cgroup.join()
        let base = try cgroup.snapshot()
        var map: BPFMap? = try BPFMap(
            type: spec.type, name: "mem_cost", keySize: spec.keySize,
            valueSize: spec.valueSize, maxEntries: spec.entries, flags: spec.flags)
        result.created = try cgroup.snapshot().charged - base.charged
        if let batch, let fd = map?.fd {
            let started = Clock.now()
            try batch.apply(to: fd, spec)
            result.fillMs = Int((Clock.now() - started) * 1000)
        }
        let filled = try cgroup.snapshot()
        result.record(from: base, to: filled)
        result.reported = try map.map { try memlock(of: $0.fd, outside: cgroup) } ?? 0

        map?.close()
        map = nil
        (result.residue, result.freeMs) = try settle(context, cgroup, to: base.charged)
        try cgroup.leave()
        context.report(result)
        return result
    }

    /// Waits (bounded) for the cgroup to come back down to `target` once
    /// something was freed; returns what is left above it and how long the
    /// wait took.
    static func settle(
        _ context: TestContext, _ cgroup: MemoryCgroup, to target: Int,
        seconds: Double = freeBoundSeconds
    ) throws -> (residue: Int, ms: Int) {
        let started = Clock.now()
        var last = target
        _ = try context.waitUntil(seconds: seconds, intervalMs: 50) {
            last = try cgroup.snapshot().charged
            return last <= target
        }
        return (last - target, Int((Clock.now() - started) * 1000))
    }

    /// `memlock` from `/proc/self/fdinfo/FD`: what the kernel says the map
    /// uses. Read from outside the cgroup: the first read of a descriptor's
    /// fdinfo makes procfs inodes, which would be charged there.
    static func memlock(of fd: Int32, outside cgroup: MemoryCgroup) throws -> Int {
        try cgroup.leave()
        defer { _ = try? cgroup.join() }
        let info = KeyedNumbers(FD.readFile("/proc/self/fdinfo/\(fd)") ?? "", separator: ":")
        return info["memlock"]
    }
}

/// Keys and values for filling a map with `BPF_MAP_UPDATE_BATCH`: key `i` is
/// `i` in its first four bytes; a per-CPU value is one 8-byte-aligned slot
/// per possible CPU.
struct FillBatch {
    var keys: [UInt8]
    var values: [UInt8]
    var valueStride: Int

    init(_ spec: MapCase, cpus: Int) {
        let slot = (spec.valueSize + 7) / 8 * 8
        valueStride = spec.isPerCPU ? slot * cpus : spec.valueSize
        keys = [UInt8](repeating: 0, count: spec.entries * spec.keySize)
        values = [UInt8](repeating: 0x5a, count: spec.entries * valueStride)
        let keySize = spec.keySize
        keys.withUnsafeMutableBytes { raw in
            for i in 0..<spec.entries {
                raw.storeBytes(of: UInt32(i), toByteOffset: i * keySize, as: UInt32.self)
            }
        }
    }

    func apply(to fd: Int32, _ spec: MapCase) throws {
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        var start = 0
        while start < spec.entries {
            var count = UInt32(min(MapCost.batchSize, spec.entries - start))
            let asked = count
            let rc = keys.withUnsafeBytes { k in
                values.withUnsafeBytes { v in
                    bpf_map_update_batch(
                        fd, k.baseAddress! + start * spec.keySize,
                        v.baseAddress! + start * valueStride, &count, &opts)
                }
            }
            if rc < 0 || count != asked {
                throw TestStop.fail(
                    "\(spec.typeName) \(spec.label): BPF_MAP_UPDATE_BATCH of \(asked) elements "
                        + "from \(start) updated \(count): \(errnoName(-rc))")
            }
            start += Int(count)
        }
    }
}

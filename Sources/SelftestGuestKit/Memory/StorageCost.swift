import CLibbpf
import Glibc
import SelftestCatalog

/// One local-storage map to measure: N owners, each holding one element.
struct StorageCase {
    var kind: StorageOwners.Kind
    var owners: Int
    var valueSize = 64
    /// What the case frees at the end: the map (owners still alive), or the
    /// owners first (map still alive) and then the map.
    var freeOwnersFirst = false

    var label: String {
        let freed = freeOwnersFirst ? "free_owners" : "free_map"
        return "\(kind.typeName.lowercased())_\(valueSize)_\(owners)_\(freed)"
    }
}

/// Measures local storage: the map, then one element on each of N owners,
/// then what freeing the map or the owners gives back.
enum StorageCost {
    /// How long the owners' elements may take to be uncharged once the
    /// owners are gone. Owners go after an RCU grace period (sockets,
    /// cgroups) or once reaped (tasks). Socket storage is then freed with
    /// kfree_rcu(), which batches for up to 5 s (KFREE_DRAIN_JIFFIES):
    /// observed from 0.06 s to over 4 s. Task and cgroup storage go straight
    /// back to the map's bpf_mem_alloc caches (observed within 0.5 s), where
    /// what the caches keep stays charged until the map goes: this wait
    /// runs out for them.
    static func ownersBoundSeconds(_ kind: StorageOwners.Kind) -> Double {
        kind == .socket ? 8 : 3
    }

    static func measure(_ context: TestContext, _ spec: StorageCase) throws -> MapMeasurement {
        var result = MapMeasurement(
            label: spec.label, type: spec.kind.typeName, prealloc: false, keySize: 4,
            valueSize: spec.valueSize, entries: spec.owners, elements: spec.owners,
            cpus: MapCost.possibleCPUs)
        result.freed = spec.freeOwnersFirst ? "owners" : "map"
        // Owners, BTF and the value are made before joining: only the map and
        // its elements are to be charged to the cgroup.
        let owners = try StorageOwners(spec.kind, count: spec.owners)
        defer { owners.destroy() }
        let btf = try StorageBTF(valueSize: spec.valueSize)
        var value = [UInt8](repeating: 0x5a, count: spec.valueSize)

        let cgroup = try MemoryCgroup("memory")
        try cgroup.join()
        let base = try cgroup.snapshot()
        var map: BPFMap? = try btf.createMap(spec.kind, valueSize: spec.valueSize)
        let empty = try cgroup.snapshot()
        result.created = empty.charged - base.charged
        let started = Clock.now()
        for (index, fd) in owners.fds.enumerated() {
            var key = fd
            let rc = bpf_map_update_elem(map?.fd ?? -1, &key, &value, UInt64(BPF_NOEXIST))
            if rc < 0 {
                throw TestStop.fail(
                    "\(spec.kind.typeName) update BPF_NOEXIST on \(spec.kind.rawValue) owner "
                        + "\(index): expected 0, got \(errnoName(-rc))")
            }
        }
        result.fillMs = Int((Clock.now() - started) * 1000)
        let filled = try cgroup.snapshot()
        result.record(from: base, to: filled)
        result.reported = try map.map { try MapCost.memlock(of: $0.fd, outside: cgroup) } ?? 0

        if spec.freeOwnersFirst {
            owners.destroy()
            let (left, _) = try MapCost.settle(
                context, cgroup, to: empty.charged, seconds: ownersBoundSeconds(spec.kind))
            result.ownerResidue = left
        }
        map?.close()
        map = nil
        (result.residue, result.freeMs) = try MapCost.settle(context, cgroup, to: base.charged)
        try cgroup.leave()
        context.report(result)
        return result
    }
}

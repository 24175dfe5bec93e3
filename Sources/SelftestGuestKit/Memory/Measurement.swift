import SelftestCatalog

/// The guest's side of a measurement: filling a `MapMeasurement` from two
/// snapshots of the cgroup and sending it to the host.
extension MapMeasurement {
    /// Records the stat deltas between two snapshots.
    mutating func record(from base: MemorySnapshot, to filled: MemorySnapshot) {
        ownPages = filled.ownPages - base.ownPages
        measured = filled.charged - base.charged
        kernel = filled.stat["kernel"] - base.stat["kernel"]
        slab = filled.stat["slab"] - base.stat["slab"]
        percpu = filled.stat["percpu"] - base.stat["percpu"]
        vmalloc = filled.stat["vmalloc"] - base.stat["vmalloc"]
        meminfoKernel = filled.meminfoKernel - base.meminfoKernel
        meminfoPercpu = filled.meminfo["Percpu"] - base.meminfo["Percpu"]
    }
}

extension TestContext {
    /// Sends a measurement to the host, which builds `selftests memory`'s
    /// table from these lines.
    func report(_ measurement: MapMeasurement) {
        log(measurement.line)
    }
}

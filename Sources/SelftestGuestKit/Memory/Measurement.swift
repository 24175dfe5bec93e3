/// What one map cost, as the cgroup measured it and as the kernel reports it;
/// sent to the host as one `measure: {json}` diagnostic line.
///
/// Every figure is in bytes. `measured` is the growth of the cgroup's
/// `memory.current`, less the process's own pages, from before the map was
/// created to after it was filled;
/// `created` the growth once it exists but is empty; `residue` what was left
/// after it (or its owners) were freed and the bounded wait ended.
struct Measurement {
    /// The case's name, unique within its test: `hash_prealloc_4_4_1024`.
    var label: String
    /// The map type without its prefix: `HASH`, `PERCPU_ARRAY`, `SK_STORAGE`.
    var type: String
    var prealloc: Bool
    var keySize: Int
    var valueSize: Int
    /// `max_entries`, or for local storage the number of owners.
    var entries: Int
    /// Elements the test added (for local storage, one per owner).
    var elements: Int
    /// Possible CPUs: per-CPU maps hold a value for each.
    var cpus: Int
    var created = 0
    var measured = 0
    /// `memlock` from the map's fdinfo, read once it was filled.
    var reported = 0
    var naive = 0
    /// Deltas of memory.stat fields over the same span as `measured`.
    var kernel = 0
    var slab = 0
    var percpu = 0
    var vmalloc = 0
    /// Growth of the process's own pages in the cgroup (anon, file, page
    /// tables), taken out of `measured`: not the map's cost.
    var ownPages = 0
    /// Deltas of /proc/meminfo (the whole machine): slab + per-CPU +
    /// vmalloc, and per-CPU alone, which also shows per-CPU memory that no
    /// cgroup was charged for.
    var meminfoKernel = 0
    var meminfoPercpu = 0
    /// What freeing returned the cgroup to, relative to where it started.
    var residue = 0
    var freeMs = 0
    var fillMs = 0
    /// What was freed to end the case: `map`, or `owners` for local storage.
    var freed = "map"
    /// For `owners`: what was left once the owners were gone, above the
    /// empty map's cost.
    var ownerResidue: Int?

    init(
        label: String, type: String, prealloc: Bool, keySize: Int, valueSize: Int, entries: Int,
        elements: Int, cpus: Int
    ) {
        self.label = label
        self.type = type
        self.prealloc = prealloc
        self.keySize = keySize
        self.valueSize = valueSize
        self.entries = entries
        self.elements = elements
        self.cpus = cpus
        self.naive = Self.naive(keySize: keySize, valueSize: valueSize, entries: entries)
    }

    /// The estimate tools make: `round_up(key_size + value_size, 8) * max_entries`.
    static func naive(keySize: Int, valueSize: Int, entries: Int) -> Int {
        (keySize + valueSize + 7) / 8 * 8 * entries
    }

    /// `reported / measured`, or 0 when nothing was measured.
    var ratio: Double { measured > 0 ? Double(reported) / Double(measured) : 0 }

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

    /// One line of JSON, keys in a fixed order (the guest has no Foundation).
    var json: String {
        var fields: [(String, String)] = [
            ("case", quoted(label)), ("type", quoted(type)), ("prealloc", "\(prealloc)"),
            ("key", "\(keySize)"), ("value", "\(valueSize)"), ("entries", "\(entries)"),
            ("elements", "\(elements)"), ("cpus", "\(cpus)"), ("created", "\(created)"),
            ("measured", "\(measured)"), ("reported", "\(reported)"), ("naive", "\(naive)"),
            ("kernel", "\(kernel)"), ("slab", "\(slab)"), ("percpu", "\(percpu)"),
            ("vmalloc", "\(vmalloc)"), ("own_pages", "\(ownPages)"),
            ("meminfo_kernel", "\(meminfoKernel)"), ("meminfo_percpu", "\(meminfoPercpu)"),
            ("residue", "\(residue)"),
            ("free_ms", "\(freeMs)"), ("fill_ms", "\(fillMs)"), ("freed", quoted(freed)),
        ]
        if let ownerResidue { fields.append(("owner_residue", "\(ownerResidue)")) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Labels and type names are ASCII identifiers; anything else is dropped
    /// rather than escaped.
    private func quoted(_ text: String) -> String {
        "\"" + String(text.filter { $0.isLetter || $0.isNumber || $0 == "_" }) + "\""
    }
}

extension TestContext {
    /// Sends a measurement to the host, which builds `selftests memory`'s
    /// table from these lines.
    func report(_ measurement: Measurement) {
        log("measure: " + measurement.json)
    }
}

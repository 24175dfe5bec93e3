/// What one BPF map cost in the guest, as its memory cgroup measured it and
/// as the kernel reports it: the record a memory test sends the host as one
/// `measure: {json}` diagnostic line. The guest writes it, the host reads
/// it; this is the one definition of its fields and keys.
///
/// Every figure is in bytes. `measured` is the growth of the cgroup's
/// `memory.current`, less the process's own pages, from before the map was
/// created to after it was filled; `created` the growth once it exists but
/// is empty; `residue` what was left after it (or its owners) were freed
/// and the bounded wait ended.
public struct MapMeasurement: Sendable, Codable, Equatable {
    /// The case, unique within its test: `hash_prealloc_4_4_1024`.
    public var label: String
    /// The map type without `BPF_MAP_TYPE_`: `HASH`, `SK_STORAGE`, …
    public var type: String
    public var prealloc: Bool
    public var keySize: Int
    public var valueSize: Int
    /// `max_entries`; for local storage the number of owners; for a ring
    /// buffer its size.
    public var entries: Int
    /// Elements the test added (for local storage, one per owner).
    public var elements: Int
    /// Possible CPUs in the guest: per-CPU maps hold a value for each.
    public var cpus: Int
    public var created = 0
    public var measured = 0
    /// `memlock` from the map's fdinfo, read once it was filled.
    public var reported = 0
    /// `round_up(key_size + value_size, 8) * max_entries`.
    public var naive: Int
    /// memory.stat deltas over the same span as `measured`.
    public var kernel = 0
    public var slab = 0
    public var percpu = 0
    public var vmalloc = 0
    /// Growth of the process's own pages in the cgroup (anon, file, page
    /// tables), taken out of `measured`: not the map's cost.
    public var ownPages = 0
    /// /proc/meminfo deltas (the whole machine): Slab + Percpu +
    /// VmallocUsed, and Percpu alone, which also shows per-CPU memory no
    /// cgroup was charged for.
    public var meminfoKernel = 0
    public var meminfoPercpu = 0
    /// Still charged after the map (or its owners, then the map) was freed,
    /// relative to where it started.
    public var residue = 0
    public var freeMs = 0
    public var fillMs = 0
    /// What was freed to end the case: `map`, or `owners` for local storage.
    public var freed = "map"
    /// For `owners`: charged once the owners were gone, above the empty map.
    public var ownerResidue: Int?

    enum CodingKeys: String, CodingKey {
        case label = "case"
        case type, prealloc
        case keySize = "key"
        case valueSize = "value"
        case entries, elements, cpus, created, measured, reported, naive, kernel, slab, percpu
        case vmalloc
        case ownPages = "own_pages"
        case meminfoKernel = "meminfo_kernel"
        case meminfoPercpu = "meminfo_percpu"
        case residue
        case freeMs = "free_ms"
        case fillMs = "fill_ms"
        case freed
        case ownerResidue = "owner_residue"
    }

    public init(
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
    public static func naive(keySize: Int, valueSize: Int, entries: Int) -> Int {
        (keySize + valueSize + 7) / 8 * 8 * entries
    }

    /// The prefix of the diagnostic lines that carry a measurement.
    public static let linePrefix = "measure: "

    /// The diagnostic line: the prefix, then the fields as one line of JSON
    /// in the order they are declared (an absent `owner_residue` left out).
    public var line: String {
        // Every field is a number, a Bool or a String: the flat encoder
        // takes them all, so it cannot throw here.
        let json = (try? FlatJSON.encode(self)) ?? "{}"
        return Self.linePrefix + json
    }
}

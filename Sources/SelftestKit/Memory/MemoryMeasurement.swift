import Foundation

/// What one BPF map cost in the guest: measured by its memory cgroup,
/// reported by the kernel (`memlock`), and estimated the naive way.
///
/// The guest's memory tests send one per case as a `measure: {json}`
/// diagnostic line; every figure is in bytes.
public struct MemoryMeasurement: Sendable, Codable, Equatable {
    /// The test that measured it (`memory/hash/cost`), and the case's verdict.
    public var test: String?
    public var outcome: Outcome?
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
    public var elements: Int
    /// Possible CPUs in the guest.
    public var cpus: Int
    /// Cgroup growth once the map existed but was empty.
    public var created: Int
    /// Cgroup growth once the map was filled (without the process's own pages).
    public var measured: Int
    /// `memlock` from the map's fdinfo.
    public var reported: Int
    /// `round_up(key_size + value_size, 8) * max_entries`.
    public var naive: Int
    /// memory.stat deltas over the same span as `measured`.
    public var kernel: Int
    public var slab: Int
    public var percpu: Int
    public var vmalloc: Int
    public var ownPages: Int
    /// /proc/meminfo deltas: Slab + Percpu + VmallocUsed, and Percpu alone.
    public var meminfoKernel: Int
    public var meminfoPercpu: Int
    /// Still charged after the map (or its owners, then the map) was freed.
    public var residue: Int
    public var freeMs: Int
    public var fillMs: Int
    /// `map`, or `owners` when local storage owners were freed first.
    public var freed: String
    /// For `owners`: charged once the owners were gone, above the empty map.
    public var ownerResidue: Int?

    enum CodingKeys: String, CodingKey {
        case test, outcome
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

    /// `reported / measured`; nil when nothing was measured.
    public var ratio: Double? { measured > 0 ? Double(reported) / Double(measured) : nil }

    /// Whether this is a local-storage map, whose size is a number of owners.
    public var isLocalStorage: Bool { type.hasSuffix("_STORAGE") }

    /// `prealloc`, `no_prealloc`, or for local storage what was freed first.
    public var mode: String {
        if isLocalStorage { return freed == "owners" ? "free owners" : "free map" }
        return prealloc ? "prealloc" : "no_prealloc"
    }
}

extension MemoryMeasurement {
    /// The prefix of the diagnostic lines that carry a measurement.
    public static let linePrefix = "measure: "

    /// The measurement on one diagnostic line; nil for any other line or for
    /// JSON that does not decode (a guest from another version).
    public static func parse(line: String) -> MemoryMeasurement? {
        guard line.hasPrefix(linePrefix) else { return nil }
        let json = line.dropFirst(linePrefix.count)
        return try? JSONDecoder().decode(MemoryMeasurement.self, from: Data(json.utf8))
    }

    /// Every measurement in a run, in the order the tests ran, each with the
    /// test it came from and its case's verdict.
    public static func all(in report: RunReport) -> [MemoryMeasurement] {
        report.records.flatMap { record in
            record.diagnostics.compactMap(parse(line:)).map { measurement in
                var m = measurement
                m.test = record.name
                let caseName = "\(record.name)/\(m.label)"
                m.outcome =
                    record.subtests.first { $0.name == caseName }?.outcome ?? record.outcome
                return m
            }
        }
    }
}

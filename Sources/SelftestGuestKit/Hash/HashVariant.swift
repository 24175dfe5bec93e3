import CLibbpf

/// One hash map variant under test: a map type and the flags it is created with.
struct HashVariant: Sendable {
    /// The case name in KTAP and JUnit, e.g. `PERCPU_HASH_NO_PREALLOC`.
    let name: String
    let typeName: String
    let typeRaw: UInt32
    let flags: UInt32

    init(_ typeName: String, _ type: bpf_map_type, flags: UInt32 = 0) {
        self.typeName = typeName
        self.typeRaw = type.rawValue
        self.flags = flags
        if flags & UInt32(BPF_F_NO_PREALLOC) != 0 {
            name = typeName + "_NO_PREALLOC"
        } else if flags & UInt32(BPF_F_NO_COMMON_LRU) != 0 {
            name = typeName + "_NO_COMMON_LRU"
        } else {
            name = typeName
        }
    }

    var type: bpf_map_type { bpf_map_type(rawValue: typeRaw) }

    var isPerCPU: Bool {
        type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH
    }

    var isLRU: Bool { type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH }

    /// LRU maps share one LRU list across CPUs unless created with
    /// `BPF_F_NO_COMMON_LRU`, which gives each CPU its own list.
    var hasCommonLRU: Bool { isLRU && flags & UInt32(BPF_F_NO_COMMON_LRU) == 0 }

    /// The map type and its flags, for messages: `PERCPU_HASH (BPF_F_NO_PREALLOC)`.
    var label: String {
        if flags & UInt32(BPF_F_NO_PREALLOC) != 0 { return "\(typeName) (BPF_F_NO_PREALLOC)" }
        if flags & UInt32(BPF_F_NO_COMMON_LRU) != 0 {
            return "\(typeName) (BPF_F_NO_COMMON_LRU)"
        }
        return isLRU ? "\(typeName) (common LRU, no flags)" : "\(typeName) (preallocated, no flags)"
    }

    static let hash = HashVariant("HASH", BPF_MAP_TYPE_HASH)
    static let percpuHash = HashVariant("PERCPU_HASH", BPF_MAP_TYPE_PERCPU_HASH)
    static let lruHash = HashVariant("LRU_HASH", BPF_MAP_TYPE_LRU_HASH)
    static let lruPercpuHash = HashVariant("LRU_PERCPU_HASH", BPF_MAP_TYPE_LRU_PERCPU_HASH)
    static let hashNoPrealloc = HashVariant(
        "HASH", BPF_MAP_TYPE_HASH, flags: UInt32(BPF_F_NO_PREALLOC))
    static let percpuHashNoPrealloc = HashVariant(
        "PERCPU_HASH", BPF_MAP_TYPE_PERCPU_HASH, flags: UInt32(BPF_F_NO_PREALLOC))
    static let lruHashNoCommon = HashVariant(
        "LRU_HASH", BPF_MAP_TYPE_LRU_HASH, flags: UInt32(BPF_F_NO_COMMON_LRU))
    static let lruPercpuHashNoCommon = HashVariant(
        "LRU_PERCPU_HASH", BPF_MAP_TYPE_LRU_PERCPU_HASH, flags: UInt32(BPF_F_NO_COMMON_LRU))

    /// The four types, and HASH / PERCPU_HASH without preallocation.
    static let all: [HashVariant] = [
        hash, percpuHash, lruHash, lruPercpuHash, hashNoPrealloc, percpuHashNoPrealloc,
    ]
    /// The variants that refuse a new key when full.
    static let bounded: [HashVariant] = all.filter { !$0.isLRU }
    /// The variants that evict when full, with each kind of LRU list.
    static let evicting: [HashVariant] = [
        lruHash, lruPercpuHash, lruHashNoCommon, lruPercpuHashNoCommon,
    ]
    /// The variants with a value slot per CPU.
    static let perCPU: [HashVariant] = [
        percpuHash, percpuHashNoPrealloc, lruPercpuHash, lruPercpuHashNoCommon,
    ]

    /// Runs `body` once per variant, each as its own case.
    static func each(
        _ variants: [HashVariant], _ context: TestContext, _ body: (HashVariant) throws -> Void
    ) {
        for variant in variants {
            context.runCase(variant.name) { try body(variant) }
        }
    }
}

/// Names for the update flags and errnos that the messages mention.
enum HashNames {
    static func flag(_ flags: UInt64) -> String {
        switch flags {
        case UInt64(BPF_ANY): "BPF_ANY"
        case UInt64(BPF_NOEXIST): "BPF_NOEXIST"
        case UInt64(BPF_EXIST): "BPF_EXIST"
        case UInt64(BPF_F_LOCK): "BPF_F_LOCK"
        default: "flags \(flags)"
        }
    }

    /// `0` for success, else the errno's name: `EEXIST (File exists)`.
    static func errno(_ code: Int32) -> String { code == 0 ? "0" : errnoName(code) }
}

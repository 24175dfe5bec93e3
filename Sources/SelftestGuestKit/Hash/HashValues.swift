/// Mirrors `struct ht_key` in `progs/hash_ops.bpf.c`: a composite key of
/// 16 bytes with no implicit padding (the kernel compares keys as bytes).
struct HashKey: Hashable, CustomStringConvertible {
    var saddr: UInt32
    var daddr: UInt32
    var sport: UInt16
    var dport: UInt16
    var proto: UInt8
    var pad0: UInt8 = 0
    var pad1: UInt8 = 0
    var pad2: UInt8 = 0

    init(saddr: UInt32, daddr: UInt32, sport: UInt16, dport: UInt16, proto: UInt8) {
        self.saddr = saddr
        self.daddr = daddr
        self.sport = sport
        self.dport = dport
        self.proto = proto
    }

    /// Key number `n`: every field is derived from `n`, so keys spread over
    /// the buckets and the number can be read back from `saddr`.
    static func number(_ n: Int) -> HashKey {
        let u = UInt32(truncatingIfNeeded: n)
        return HashKey(
            saddr: 0x0a00_0000 | u, daddr: 0xc0a8_0000 ^ (u &* 2_654_435_761),
            sport: UInt16(truncatingIfNeeded: 1024 &+ n), dport: UInt16(truncatingIfNeeded: n % 7),
            proto: n % 2 == 0 ? 6 : 17)
    }

    /// The `n` of a key made by `number(_:)`.
    var index: Int { Int(saddr & 0x00ff_ffff) }

    var description: String {
        if self == .number(index) { return "key \(index)" }
        return "key {\(saddr), \(daddr), \(sport), \(dport), \(proto)}"
    }
}

/// Mirrors `struct ht_value`: 64 bytes, eight words. A value is "uniform"
/// when all its words are equal; writers in the concurrency tests only
/// store uniform values, so a reader that sees a non-uniform one saw a tear.
struct HashValue: Equatable, CustomStringConvertible {
    static let wordCount = 8
    var w0: UInt64 = 0
    var w1: UInt64 = 0
    var w2: UInt64 = 0
    var w3: UInt64 = 0
    var w4: UInt64 = 0
    var w5: UInt64 = 0
    var w6: UInt64 = 0
    var w7: UInt64 = 0

    static let zero = HashValue()

    init() {}

    init(words: [UInt64]) {
        precondition(words.count == Self.wordCount)
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
        (w4, w5, w6, w7) = (words[4], words[5], words[6], words[7])
    }

    var words: [UInt64] { [w0, w1, w2, w3, w4, w5, w6, w7] }

    /// All words equal to `x`.
    static func uniform(_ x: UInt64) -> HashValue {
        HashValue(words: Array(repeating: x, count: wordCount))
    }

    /// A value whose words all differ, derived from `seed`: a value read
    /// back whole proves the copy kept every field in place.
    static func stamp(_ seed: UInt64) -> HashValue {
        HashValue(words: (0..<UInt64(wordCount)).map { seed << 8 | $0 })
    }

    var isUniform: Bool { words.allSatisfy { $0 == w0 } }

    var description: String {
        if isUniform { return "uniform(\(hex(w0)))" }
        if self == .stamp(w0 >> 8) { return "stamp(\(hex(w0 >> 8)))" }
        return "[" + words.map(hex).joined(separator: " ") + "]"
    }

    private func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
}

/// The value slots of one key as user space reads and writes them: one
/// slot for a shared map, one per possible CPU for a per-CPU map.
typealias HashSlots = [HashValue]

import CLibbpf
import Glibc

/// What a full map does: refuse a new key, or evict the least recently used.
enum HashCapacityTests {
    static let noexist = UInt64(BPF_NOEXIST)

    /// A full HASH or PERCPU_HASH refuses a new key with `E2BIG`, from user
    /// space and from a program, but still replaces an existing key; a
    /// delete makes room for exactly one.
    static func fullRefuses(_ context: TestContext) throws {
        HashVariant.each(HashVariant.bounded, context) { variant in
            let size = 32
            let f = try HashFixture(context, variant, maxEntries: size)
            let c = HashCheck(context: context, variant: variant)
            for i in 0..<size {
                try c.errno(
                    f.update(.number(i), slots: f.distinctSlots(UInt64(i)), flags: noexist), 0,
                    "update of new key \(i) (below max_entries \(size))")
            }
            let full = "into the full map (\(size) of max_entries \(size))"
            let extra = HashKey.number(size)
            try c.errno(
                f.update(extra, slots: f.distinctSlots(1), flags: noexist), E2BIG,
                "update with BPF_NOEXIST of a new key \(full), from user space")
            try c.errno(
                f.update(extra, slots: f.distinctSlots(1), flags: UInt64(BPF_ANY)), E2BIG,
                "update with BPF_ANY of a new key \(full), from user space")
            try c.absent(f, extra, "after the refused update")
            try c.errno(
                try f.run(.update, extra, .stamp(1), arg: UInt64(BPF_ANY)).errno, E2BIG,
                "update with BPF_ANY of a new key \(full), from a program")

            let replaced = f.distinctSlots(0xfeed)
            try c.errno(
                f.update(.number(3), slots: replaced, flags: UInt64(BPF_ANY)), 0,
                "update with BPF_ANY of an existing key in the full map")
            try c.holds(f, .number(3), replaced, "after replacing it in the full map")
            try c.errno(
                f.update(.number(4), slots: replaced, flags: UInt64(BPF_EXIST)), 0,
                "update with BPF_EXIST of an existing key in the full map")
            try c.errno(
                try f.run(.update, .number(5), .stamp(2), arg: UInt64(BPF_EXIST)).errno, 0,
                "update with BPF_EXIST of an existing key in the full map, from a program")
            try c.equal(f.keys().count, size, "number of keys after replacing three")

            try c.errno(f.delete(.number(0)), 0, "delete of a key in the full map")
            try c.errno(
                f.update(extra, slots: f.distinctSlots(2), flags: noexist), 0,
                "update of a new key after a delete made room")
            try c.errno(
                f.update(.number(size + 1), slots: f.distinctSlots(3), flags: noexist), E2BIG,
                "update of a second new key after one delete")
        }
    }

    /// A full LRU map accepts every new key and evicts to make room, least
    /// recently used first: keys a program looked up after the fill survive,
    /// keys inserted after the fill survive, and the evicted keys are the
    /// oldest untouched ones. With `BPF_F_NO_COMMON_LRU` each CPU has its own
    /// list, so the test fills and evicts from CPU 0 only.
    static func lruEvicts(_ context: TestContext) throws {
        HashVariant.each(HashVariant.evicting, context) { variant in
            try Libc.pin(to: 0)
            let size = 256
            let f = try HashFixture(context, variant, maxEntries: size)
            let c = HashCheck(context: context, variant: variant)
            // What CPU 0 can hold: the whole map, or its own list's share.
            let capacity = variant.hasCommonLRU ? size : size / f.possibleCPUs
            for i in 0..<capacity {
                try c.errno(
                    f.update(.number(i), slots: f.distinctSlots(UInt64(i)), flags: noexist), 0,
                    "update of new key \(i) while filling (\(capacity) keys) from CPU 0")
            }
            let filled = Set(f.keys().map(\.index))
            if filled.count < capacity {
                context.log(
                    "\(variant.name): \(capacity - filled.count) keys evicted before the map "
                        + "was full")
            }

            // A user-space lookup does not mark an element as used; a
            // program's lookup does. Touch every eighth of the oldest half.
            let hot = (0..<capacity / 2).filter { $0 % 8 == 0 && filled.contains($0) }
            for k in hot {
                try c.expect(
                    try f.run(.lookup, .number(k)).found,
                    "a program's lookup of key \(k) after the fill found nothing")
            }
            let added = Array(capacity..<(capacity + capacity / 2))
            for i in added {
                try c.errno(
                    f.update(.number(i), slots: f.distinctSlots(UInt64(i)), flags: noexist), 0,
                    "update with BPF_NOEXIST of new key \(i) into the full LRU map")
            }

            let after = Set(f.keys().map(\.index))
            let untouched = (0..<capacity).filter { filled.contains($0) && !hot.contains($0) }
            let evicted = untouched.filter { !after.contains($0) }
            let kept = untouched.filter { after.contains($0) }
            context.log(
                "\(variant.name): filled \(capacity), touched \(hot.count), added "
                    + "\(added.count): \(after.count) keys left; evicted "
                    + "\(evicted.count) untouched keys \(ranges(evicted))")
            try c.expect(
                after.count <= capacity,
                "holds \(after.count) keys from CPU 0, more than its \(capacity)")
            let lostHot = hot.filter { !after.contains($0) }
            try c.expect(
                lostHot.isEmpty,
                "evicted recently used keys \(ranges(lostHot)) (looked up by a program after "
                    + "the fill) while untouched keys \(ranges(kept)) remained")
            let lostNew = added.filter { !after.contains($0) }
            try c.expect(
                lostNew.isEmpty,
                "evicted keys \(ranges(lostNew)) added after the fill while older untouched "
                    + "keys \(ranges(kept)) remained")
            try c.expect(
                evicted.count >= added.count - (capacity - filled.count),
                "evicted only \(evicted.count) keys to add \(added.count) to a full map")
            if let newest = evicted.max(), let oldest = kept.min() {
                try c.expect(
                    newest < oldest,
                    "evicted key \(newest) while the older untouched key \(oldest) remained: "
                        + "not least recently used first")
            }
        }
    }

    /// `[0-7, 9, 12-15]`: a short form of a sorted list of key numbers.
    static func ranges(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = numbers.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(
                end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}

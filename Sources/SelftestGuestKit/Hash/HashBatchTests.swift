import CLibbpf
import Glibc

/// The batch operations, checked against element-by-element operations.
enum HashBatchTests {
    static let count = 30
    /// Sizes that divide 30 (1, 5, 30) and that do not (7, 64).
    static let sizes = [1, 5, 7, 30, 64]

    /// For each batch size: `update_batch` creates and then replaces
    /// elements, as element lookups confirm; `lookup_batch` returns every
    /// element once, with the value an element lookup returns;
    /// `delete_batch` deletes exactly its keys and stops at a missing one
    /// with `ENOENT`; `lookup_and_delete_batch` returns everything and
    /// leaves the map empty.
    static func batchOps(_ context: TestContext) throws {
        HashVariant.each(HashVariant.all, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 64)
            let c = HashCheck(context: context, variant: variant)
            let keys = (0..<count).map(HashKey.number)
            var notes: [String] = []
            for size in sizes {
                let values = keys.map { f.distinctSlots(UInt64(size << 16 | $0.index)) }
                let b = HashBatch(fixture: f, check: c, size: size)
                // The first batch creates the elements, the second replaces them.
                try b.update(keys, keys.map { f.distinctSlots(UInt64($0.index)) })
                try b.update(keys, values)
                for (i, key) in keys.enumerated() {
                    try c.holds(
                        f, key, values[i], "after update_batch replaced it (batch size \(size))")
                }

                let looked = try b.lookupAll(delete: false)
                try b.agree(looked, keys, values, "lookup_batch")
                for (key, slots) in looked {
                    try c.holds(f, key, slots, "(an element that lookup_batch returned)")
                }

                let even = keys.filter { $0.index % 2 == 0 }
                try b.delete(even)
                for key in keys {
                    if key.index % 2 == 0 {
                        try c.absent(f, key, "after delete_batch (batch size \(size))")
                    } else {
                        try c.holds(
                            f, key, values[key.index], "after delete_batch of other keys")
                    }
                }
                try b.deleteStopsAtMissing(present: keys[1], missing: keys[0])

                try b.update(even, even.map { values[$0.index] })
                try b.update([keys[1]], [values[1]])
                let drained = try b.lookupAll(delete: true)
                try b.agree(drained, keys, values, "lookup_and_delete_batch")
                try c.equal(f.keys().count, 0, "keys left after lookup_and_delete_batch")
                notes.append("size \(size): \(b.calls) calls, \(b.retries) after ENOSPC")
            }
            context.log("\(variant.name): " + notes.joined(separator: ", "))
        }
    }
}

/// The batch calls at one batch size, with the checks on what they return.
final class HashBatch {
    let fixture: HashFixture
    let check: HashCheck
    let size: Int
    /// Calls made, and lookups retried after ENOSPC (for the log).
    var calls = 0
    var retries = 0

    init(fixture: HashFixture, check: HashCheck, size: Int) {
        self.fixture = fixture
        self.check = check
        self.size = size
    }

    var label: String { "(batch size \(size))" }

    /// `update_batch` in chunks of `size`, each storing all its elements.
    func update(_ keys: [HashKey], _ values: [HashSlots]) throws {
        var start = 0
        while start < keys.count {
            let end = min(start + size, keys.count)
            var k = Array(keys[start..<end])
            var v = Array(values[start..<end].joined())
            var n = UInt32(end - start)
            calls += 1
            let rc = k.withUnsafeMutableBytes { kb in
                v.withUnsafeMutableBytes { vb in
                    bpf_map_update_batch(fixture.map.fd, kb.baseAddress, vb.baseAddress, &n, nil)
                }
            }
            try check.errno(rc < 0 ? -rc : 0, 0, "update_batch of \(end - start) keys \(label)")
            try check.equal(Int(n), end - start, "elements update_batch stored \(label)")
            start = end
        }
    }

    /// Every element through `lookup_batch` (or `lookup_and_delete_batch`)
    /// in calls of at most `size`. A call that cannot fit one hash bucket
    /// fails with `ENOSPC` without moving on, as documented; it is retried
    /// with a larger count.
    func lookupAll(delete: Bool) throws -> [(HashKey, HashSlots)] {
        let call = delete ? "lookup_and_delete_batch" : "lookup_batch"
        let slots = fixture.slots
        var found: [(HashKey, HashSlots)] = []
        var token: [UInt64] = [0, 0]
        var next: [UInt64] = [0, 0]
        var first = true
        var ask = size
        while found.count <= HashBatchTests.count * 2 {
            var keys = [HashKey](repeating: .number(-1), count: ask)
            var values = HashSlots(repeating: .zero, count: ask * slots)
            var n = UInt32(ask)
            calls += 1
            let rc = keys.withUnsafeMutableBytes { kb in
                values.withUnsafeMutableBytes { vb in
                    token.withUnsafeMutableBytes { tb in
                        next.withUnsafeMutableBytes { nb in
                            let fn = delete ? bpf_map_lookup_and_delete_batch : bpf_map_lookup_batch
                            return fn(
                                fixture.map.fd, first ? nil : tb.baseAddress, nb.baseAddress,
                                kb.baseAddress, vb.baseAddress, &n, nil)
                        }
                    }
                }
            }
            let errno = rc < 0 ? -rc : 0
            if errno == ENOSPC && n == 0 && ask < 4 * HashBatchTests.count {
                retries += 1
                ask *= 2
                continue
            }
            try check.expect(
                errno == 0 || errno == ENOENT,
                "\(call) \(label) failed: \(HashNames.errno(errno))")
            try check.expect(Int(n) <= ask, "\(call) returned \(n) elements, asked for \(ask)")
            for i in 0..<Int(n) {
                found.append((keys[i], Array(values[(i * slots)..<((i + 1) * slots)])))
            }
            if errno == ENOENT { return found }
            token = next
            first = false
            ask = size
        }
        throw check.fail("\(call) \(label) did not end with ENOENT after \(found.count) elements")
    }

    /// What a batch lookup returned is the map's content: each key once,
    /// each with the value it was given.
    func agree(
        _ entries: [(HashKey, HashSlots)], _ keys: [HashKey], _ values: [HashSlots],
        _ call: String
    ) throws {
        let returned = entries.map(\.0)
        try check.equal(Set(returned).count, returned.count, "distinct keys from \(call) \(label)")
        try check.equal(Set(returned), Set(keys), "keys \(call) returned \(label)")
        for (key, slots) in entries where slots != values[key.index] {
            throw check.fail(
                "\(call) \(label) returned \(check.describe(slots)) for \(key), which holds "
                    + check.describe(values[key.index]))
        }
    }

    /// `delete_batch` in chunks of `size`, each deleting all its keys.
    func delete(_ keys: [HashKey]) throws {
        var start = 0
        while start < keys.count {
            let end = min(start + size, keys.count)
            var k = Array(keys[start..<end])
            var n = UInt32(end - start)
            calls += 1
            let rc = k.withUnsafeMutableBytes {
                bpf_map_delete_batch(fixture.map.fd, $0.baseAddress, &n, nil)
            }
            try check.errno(rc < 0 ? -rc : 0, 0, "delete_batch of \(end - start) keys \(label)")
            try check.equal(Int(n), end - start, "keys delete_batch deleted \(label)")
            start = end
        }
    }

    /// `delete_batch` of [present, missing]: deletes the first, fails on the
    /// second with `ENOENT`, and counts one.
    func deleteStopsAtMissing(present: HashKey, missing: HashKey) throws {
        var k = [present, missing]
        var n: UInt32 = 2
        let rc = k.withUnsafeMutableBytes {
            bpf_map_delete_batch(fixture.map.fd, $0.baseAddress, &n, nil)
        }
        try check.errno(rc < 0 ? -rc : 0, ENOENT, "delete_batch of a present and a missing key")
        try check.equal(n, 1, "keys delete_batch counted before the missing key")
        try check.absent(fixture, present, "after delete_batch deleted it")
    }
}

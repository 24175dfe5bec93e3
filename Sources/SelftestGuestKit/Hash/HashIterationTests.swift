import CLibbpf
import Glibc

/// Walking a hash map's keys with `bpf_map_get_next_key`.
enum HashIterationTests {
    static let count = 24

    /// From NULL the walk visits every key exactly once and ends with
    /// `ENOENT`. As the kernel documents, when the current key has been
    /// deleted the next call returns the first key again (a restart), and
    /// so does a key that was never in the map.
    static func getNextKey(_ context: TestContext) throws {
        HashVariant.each(HashVariant.all, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 64)
            let c = HashCheck(context: context, variant: variant)
            let inserted = Set((0..<count).map(HashKey.number))
            for key in inserted {
                try c.errno(
                    f.update(key, .stamp(UInt64(key.index)), flags: UInt64(BPF_NOEXIST)), 0,
                    "update of \(key)")
            }

            var walk: [HashKey] = []
            var last: Int32 = 0
            var current: HashKey?
            while walk.count <= count * 2 {
                let (rc, next) = f.nextKey(after: current)
                last = rc
                if rc != 0 { break }
                walk.append(next)
                current = next
            }
            try c.errno(last, ENOENT, "bpf_map_get_next_key after the last of \(walk.count) keys")
            let seen = Set(walk)
            let repeated = walk.count - seen.count
            try c.expect(
                repeated == 0, "a walk from NULL returned \(repeated) keys more than once")
            try c.expect(
                seen == inserted,
                "a walk from NULL visited \(seen.count) of the \(count) keys; missing "
                    + HashCapacityTests.ranges(inserted.subtracting(seen).map(\.index)))

            let first = walk[0]
            let position = 3
            let deleted = walk[position]
            try c.errno(f.delete(deleted), 0, "delete of the current key \(deleted) mid-walk")
            let (rc, next) = f.nextKey(after: deleted)
            try c.errno(rc, 0, "bpf_map_get_next_key of the deleted current key")
            try c.expect(
                next == first,
                "after deleting the current key \(deleted) (step \(position + 1) of the walk), "
                    + "the next key: expected the first key \(first) (a restart, as documented), "
                    + "got \(next) (the walk had \(walk[position + 1]) next)")
            try c.equal(f.nextKey(after: nil).key, first, "first key after the delete")
            let stranger = HashKey.number(999)
            try c.equal(
                f.nextKey(after: stranger).key, first,
                "bpf_map_get_next_key of a key never in the map")

            try drain(f, c, remaining: inserted.subtracting([deleted]))
        }
    }

    /// Deleting each key as the walk reaches it: every call restarts at the
    /// first remaining key, so the walk still visits each key once and ends
    /// with the map empty.
    static func drain(_ f: HashFixture, _ c: HashCheck, remaining: Set<HashKey>) throws {
        var visited: [HashKey] = []
        var (rc, key) = f.nextKey(after: nil)
        while rc == 0 && visited.count <= remaining.count {
            visited.append(key)
            try c.errno(f.delete(key), 0, "delete of \(key) while draining")
            (rc, key) = f.nextKey(after: key)
        }
        try c.errno(rc, ENOENT, "bpf_map_get_next_key once a delete-as-you-go walk emptied the map")
        try c.equal(visited.count, remaining.count, "keys a delete-as-you-go walk visited")
        try c.expect(
            Set(visited) == remaining, "a delete-as-you-go walk visited other keys than the map had"
        )
        try c.errno(
            f.nextKey(after: nil).errno, ENOENT, "bpf_map_get_next_key(NULL) of the empty map")
    }
}

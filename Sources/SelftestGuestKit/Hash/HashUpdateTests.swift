import CLibbpf
import Glibc

/// Update flags, lookup and delete, from user space and from a program.
enum HashUpdateTests {
    static let any = UInt64(BPF_ANY)
    static let noexist = UInt64(BPF_NOEXIST)
    static let exist = UInt64(BPF_EXIST)

    /// `BPF_ANY` creates or replaces, `BPF_NOEXIST` refuses an existing key
    /// with `EEXIST`, `BPF_EXIST` refuses a missing one with `ENOENT`; a
    /// refused update changes nothing.
    static func updateFlags(_ context: TestContext) throws {
        HashVariant.each(HashVariant.all, context) { variant in
            let fixture = try HashFixture(context, variant, maxEntries: 16)
            let check = HashCheck(context: context, variant: variant)
            try userSpaceFlags(fixture, check)
            try programFlags(fixture, check)
        }
    }

    static func userSpaceFlags(_ f: HashFixture, _ c: HashCheck) throws {
        let key = HashKey.number(1)
        let other = HashKey.number(2)
        let (a, b, x) = (f.distinctSlots(0xa), f.distinctSlots(0xb), f.distinctSlots(0xc))
        let side = "from user space"

        try c.errno(
            f.update(key, slots: a, flags: exist), ENOENT,
            "update with BPF_EXIST of a missing key, \(side)")
        try c.absent(f, key, "after the refused BPF_EXIST update")
        try c.errno(
            f.update(key, slots: a, flags: any), 0, "update with BPF_ANY of a missing key, \(side)")
        try c.holds(f, key, a, "after BPF_ANY created it")
        try c.errno(
            f.update(key, slots: b, flags: any), 0,
            "update with BPF_ANY of an existing key, \(side)")
        try c.holds(f, key, b, "after BPF_ANY replaced it")
        try c.errno(
            f.update(key, slots: x, flags: noexist), EEXIST,
            "update with BPF_NOEXIST of an existing key, \(side)")
        try c.holds(f, key, b, "after the refused BPF_NOEXIST update")
        try c.errno(
            f.update(other, slots: a, flags: noexist), 0,
            "update with BPF_NOEXIST of a missing key, \(side)")
        try c.errno(
            f.update(other, slots: x, flags: exist), 0,
            "update with BPF_EXIST of an existing key, \(side)")
        try c.holds(f, other, x, "after BPF_EXIST replaced it")
        try c.errno(
            f.update(key, slots: a, flags: exist + 1), EINVAL,
            "update with the unknown flag value 3, \(side)")
        try c.holds(f, key, b, "after the refused update with flag value 3")
        try c.errno(f.delete(key), 0, "delete of an existing key")
        try c.errno(f.delete(other), 0, "delete of an existing key")
    }

    /// The same from `bpf_map_update_elem()` in a program on CPU 0. On a
    /// per-CPU map the program writes its own CPU's slot only.
    static func programFlags(_ f: HashFixture, _ c: HashCheck) throws {
        let key = HashKey.number(11)
        let other = HashKey.number(12)
        let (a, b, x) = (HashValue.stamp(0xa1), HashValue.stamp(0xb1), HashValue.stamp(0xc1))
        let side = "from a program"

        func update(_ k: HashKey, _ v: HashValue, _ flags: UInt64) throws -> Int32 {
            try f.run(.update, k, v, arg: flags).errno
        }
        func expectProgramSees(_ k: HashKey, _ v: HashValue, _ what: String) throws {
            let seen = try f.run(.lookup, k)
            try c.expect(seen.found, "bpf_map_lookup_elem() of \(k) \(what): got NULL")
            try c.equal(seen.value, v, "bpf_map_lookup_elem() of \(k) \(what)")
        }

        try c.errno(
            try update(key, a, exist), ENOENT, "update with BPF_EXIST of a missing key, \(side)")
        try c.expect(
            !(try f.run(.lookup, key).found),
            "bpf_map_lookup_elem() found \(key) after the refused BPF_EXIST update")
        try c.errno(try update(key, a, any), 0, "update with BPF_ANY of a missing key, \(side)")
        try expectProgramSees(key, a, "after BPF_ANY created it")
        // A program creates the element with its own slot set and the others zero.
        let created = [a] + Array(repeating: HashValue.zero, count: f.slots - 1)
        try c.holds(f, key, created, "after a program on CPU 0 created it")
        try c.errno(try update(key, b, any), 0, "update with BPF_ANY of an existing key, \(side)")
        try expectProgramSees(key, b, "after BPF_ANY replaced it")
        try c.errno(
            try update(key, x, noexist), EEXIST,
            "update with BPF_NOEXIST of an existing key, \(side)")
        try expectProgramSees(key, b, "after the refused BPF_NOEXIST update")
        try c.errno(
            try update(other, a, noexist), 0, "update with BPF_NOEXIST of a missing key, \(side)")
        try c.errno(
            try update(other, x, exist), 0, "update with BPF_EXIST of an existing key, \(side)")
        try expectProgramSees(other, x, "after BPF_EXIST replaced it")
    }

    /// Struct keys and values: keys that differ in a single field are
    /// different elements; lookup returns the whole value or nothing;
    /// delete returns 0 once, then `ENOENT`.
    static func lookupDelete(_ context: TestContext) throws {
        HashVariant.each(HashVariant.all, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 16)
            let c = HashCheck(context: context, variant: variant)
            let base = HashKey.number(5)
            var keys = [base]
            for field in 0..<5 {
                var k = base
                switch field {
                case 0: k.saddr += 1 << 24
                case 1: k.daddr += 1
                case 2: k.sport += 1
                case 3: k.dport += 1
                default: k.proto = k.proto == 6 ? 17 : 6
                }
                keys.append(k)
            }
            let values = keys.indices.map { f.distinctSlots(UInt64(0x100 + $0)) }
            for (i, k) in keys.enumerated() {
                try c.errno(
                    f.update(k, slots: values[i], flags: noexist), 0,
                    "update with BPF_NOEXIST of composite key \(i) (differs from key 0 in "
                        + "one field)")
            }
            try c.equal(f.keys().count, keys.count, "number of keys after adding composite keys")
            for (i, k) in keys.enumerated() {
                try c.holds(f, k, values[i], "(composite key \(i))")
                let seen = try f.run(.lookup, k)
                try c.expect(seen.found, "a program's lookup of composite key \(i) found nothing")
                try c.equal(seen.value, values[i][0], "a program's lookup of composite key \(i)")
            }

            let missing = HashKey.number(99)
            try c.absent(f, missing, "(never added)")
            let notFound = try f.run(.lookup, missing)
            try c.expect(!notFound.found, "a program's lookup of a missing key returned a value")
            try c.errno(f.delete(missing), ENOENT, "delete of a key never added, from user space")

            try c.errno(f.delete(keys[1]), 0, "delete of an existing key, from user space")
            try c.absent(f, keys[1], "after its delete")
            try c.errno(f.delete(keys[1]), ENOENT, "second delete of a key, from user space")
            try c.errno(
                try f.run(.delete, keys[2]).errno, 0, "delete of an existing key, from a program")
            try c.absent(f, keys[2], "after a program deleted it")
            try c.errno(
                try f.run(.delete, keys[2]).errno, ENOENT, "second delete of a key, from a program")
            for i in [0, 3, 4, 5] {
                try c.holds(f, keys[i], values[i], "after deleting two other keys")
            }
            try c.equal(f.keys().count, 4, "number of keys after two deletes")
        }
    }
}

import CLibbpf
import Glibc

/// The per-CPU variants: one value slot per possible CPU, each CPU's
/// programs see and write their own slot, and a chosen slot can be read.
enum HashPerCPUTests {
    static let guardByte: UInt8 = 0xa5

    /// The CPUs to run programs on; a per-CPU test needs two.
    static func cpus(_ context: TestContext) throws -> [Int] {
        let cpus = Libc.onlineCPUs()
        if cpus.count < 2 {
            throw context.skip("needs 2 CPUs to tell per-CPU slots apart, the guest has \(cpus)")
        }
        return cpus
    }

    /// User space reads and writes one slot per possible CPU (8-byte
    /// aligned); a program on CPU n sees slot n, and writes only slot n,
    /// through the looked-up pointer and through `bpf_map_update_elem()`.
    static func slots(_ context: TestContext) throws {
        let cpus = try cpus(context)
        HashVariant.each(HashVariant.perCPU, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 16)
            let c = HashCheck(context: context, variant: variant)
            let key = HashKey.number(7)
            var expected = f.distinctSlots(0x51)
            try c.errno(
                f.update(key, slots: expected, flags: UInt64(BPF_ANY)), 0, "update of \(key)")
            try rawLookup(f, c, key, expected)
            try slotStride(f, c)

            for cpu in cpus {
                let seen = try f.run(.lookup, key, cpu: cpu)
                try c.expect(seen.found, "a program on CPU \(cpu) found no value for \(key)")
                try c.equal(
                    seen.value, expected[cpu],
                    "value a program on CPU \(cpu) looked up (user space wrote slot \(cpu))")
            }
            for cpu in cpus {
                let marker = HashValue.stamp(0xc0de00 + UInt64(cpu))
                try c.expect(
                    try f.run(.write, key, marker, cpu: cpu).found,
                    "a program on CPU \(cpu) found no value to write")
                expected[cpu] = marker
                try c.holds(
                    f, key, expected,
                    "after a program on CPU \(cpu) wrote through bpf_map_lookup_elem()")
            }
            for cpu in cpus {
                let value = HashValue.stamp(0xe000 + UInt64(cpu))
                try c.errno(
                    try f.run(.update, key, value, arg: UInt64(BPF_EXIST), cpu: cpu).errno, 0,
                    "update with BPF_EXIST from a program on CPU \(cpu)")
                expected[cpu] = value
                try c.holds(
                    f, key, expected, "after bpf_map_update_elem() from a program on CPU \(cpu)")
            }
            let fresh = HashKey.number(8)
            let creator = cpus[cpus.count - 1]
            let value = HashValue.stamp(0xf00d)
            try c.errno(
                try f.run(.update, fresh, value, arg: UInt64(BPF_NOEXIST), cpu: creator).errno,
                0, "update with BPF_NOEXIST of a new key from a program on CPU \(creator)")
            var created = HashSlots(repeating: .zero, count: f.slots)
            created[creator] = value
            try c.holds(f, fresh, created, "created by a program on CPU \(creator)")
        }
    }

    /// A lookup into a buffer one slot larger than needed: the kernel fills
    /// one 64-byte slot per possible CPU and not a byte more.
    static func rawLookup(_ f: HashFixture, _ c: HashCheck, _ key: HashKey, _ want: HashSlots)
        throws
    {
        let size = MemoryLayout<HashValue>.stride
        var buffer = [UInt8](repeating: guardByte, count: (f.possibleCPUs + 1) * size)
        var k = key
        let rc = buffer.withUnsafeMutableBytes { bpf_map_lookup_elem(f.map.fd, &k, $0.baseAddress) }
        try c.errno(rc < 0 ? -rc : 0, 0, "lookup of \(key) into a raw buffer")
        let got = buffer.withUnsafeBytes { raw in
            (0..<f.possibleCPUs).map { raw.load(fromByteOffset: $0 * size, as: HashValue.self) }
        }
        try c.equal(
            got, want, "the \(f.possibleCPUs) slots (one per possible CPU) of a user-space lookup")
        let tail = buffer[(f.possibleCPUs * size)...]
        try c.expect(
            tail.allSatisfy { $0 == guardByte },
            "a lookup wrote past \(f.possibleCPUs) slots (one per possible CPU) of \(size) bytes")
    }

    /// With a 4-byte value, each CPU's slot still takes 8 bytes.
    static func slotStride(_ f: HashFixture, _ c: HashCheck) throws {
        let map = try BPFMap(
            type: f.variant.type, name: "hash_u32", keySize: 4, valueSize: 4, maxEntries: 4,
            flags: f.variant.flags)
        let n = f.possibleCPUs
        var slots = [UInt64](repeating: 0, count: n)
        for i in 0..<n { slots[i] = 0x1000 + UInt64(i) }
        var key: UInt32 = 1
        var rc = slots.withUnsafeMutableBytes {
            bpf_map_update_elem(map.fd, &key, $0.baseAddress, UInt64(BPF_ANY))
        }
        try c.errno(rc < 0 ? -rc : 0, 0, "update of a map with 4-byte values")
        var buffer = [UInt8](repeating: guardByte, count: (n + 1) * 8)
        rc = buffer.withUnsafeMutableBytes { bpf_map_lookup_elem(map.fd, &key, $0.baseAddress) }
        try c.errno(rc < 0 ? -rc : 0, 0, "lookup in a map with 4-byte values")
        let got = buffer.withUnsafeBytes { raw in
            (0..<n).map { raw.load(fromByteOffset: $0 * 8, as: UInt32.self) }
        }
        try c.equal(
            got, (0..<n).map { 0x1000 + UInt32($0) },
            "4-byte values read at an 8-byte stride, one per possible CPU")
        try c.expect(
            buffer[(n * 8)...].allSatisfy { $0 == guardByte },
            "a lookup of 4-byte values wrote past \(n) slots of 8 bytes")
    }

    /// `bpf_map_lookup_percpu_elem()` from a program on any CPU reads the
    /// chosen CPU's slot, and returns NULL for a CPU number out of range
    /// and for a missing key.
    static func lookupPercpuElem(_ context: TestContext) throws {
        let cpus = try cpus(context)
        HashVariant.each(HashVariant.perCPU, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 16)
            let c = HashCheck(context: context, variant: variant)
            let key = HashKey.number(3)
            let written = f.distinctSlots(0x77)
            try c.errno(
                f.update(key, slots: written, flags: UInt64(BPF_ANY)), 0, "update of \(key)")
            for runCPU in cpus {
                for slot in 0..<f.possibleCPUs {
                    let seen = try f.readPercpu(key, slot: UInt64(slot), cpu: runCPU)
                    let call = "bpf_map_lookup_percpu_elem(\(key), cpu \(slot)) on CPU \(runCPU)"
                    try c.expect(seen.found, "\(call) returned NULL")
                    try c.equal(seen.value, written[slot], call)
                }
            }
            for slot in [UInt64(f.possibleCPUs), UInt64(UInt32.max)] {
                let seen = try f.readPercpu(key, slot: slot, cpu: cpus[0])
                try c.expect(
                    !seen.found,
                    "bpf_map_lookup_percpu_elem(\(key), cpu \(slot)) returned a value; expected "
                        + "NULL for a CPU out of range (\(f.possibleCPUs) possible)")
            }
            let missing = try f.readPercpu(.number(99), slot: 0, cpu: cpus[0])
            try c.expect(
                !missing.found, "bpf_map_lookup_percpu_elem() of a missing key returned a value")
        }
    }
}

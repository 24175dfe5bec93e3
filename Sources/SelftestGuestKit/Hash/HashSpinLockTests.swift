import CLibbpf
import Glibc

/// Values holding a `struct bpf_spin_lock`, which the kernel allows in HASH
/// maps only (of the hash family).
enum HashSpinLockTests {
    static let objectName = "hash_spin_lock"
    /// Mirrors `struct lock_value`: the lock and writer (one word), 14 words.
    static let valueWords = 15
    static let seconds = 1.5
    static let maxIterations = 4_000

    static func spinLock(_ context: TestContext) throws {
        let cpus = try HashPerCPUTests.cpus(context)
        for variant in [HashVariant.hash, .hashNoPrealloc] {
            context.runCase(variant.name) { try underContention(context, variant, cpus) }
        }
        for variant in [HashVariant.percpuHash, .lruHash, .lruPercpuHash] {
            context.runCase("\(variant.name) refused") { try refused(context, variant) }
        }
    }

    /// A thread pinned to each CPU runs, in turn: a program that writes the
    /// value under the lock, a program that reads it under the lock, a
    /// user-space update with `BPF_F_LOCK`, and a user-space lookup with
    /// `BPF_F_LOCK`. Every writer stores one number in all 14 words, so no
    /// locked reader may see two different numbers.
    static func underContention(_ context: TestContext, _ variant: HashVariant, _ cpus: [Int])
        throws
    {
        let c = HashCheck(context: context, variant: variant)
        let object = try BPFObject(path: context.objectPath(objectName)) { raw in
            guard let map = bpf_object__find_map_by_name(raw, "locked") else {
                throw BPFError(call: "find map locked", errno: ENOENT, log: "")
            }
            try check(bpf_map__set_map_flags(map, variant.flags), "set flags of locked")
        }
        let map = try object.map("locked")
        let race = HashLockRace(
            fd: map.fd, write: try object.program("locked_write"),
            read: try object.program("locked_read"))
        try c.errno(race.update(words: 0), 0, "update with BPF_F_LOCK of a new key")
        let deadline = Clock.now() + seconds

        let tallies = try Threads.run(cpus.count) { index -> HashThreadTally in
            var tally = HashThreadTally(cpu: cpus[index])
            do {
                try Libc.pin(to: tally.cpu)
                while tally.iterations < maxIterations && Clock.now() < deadline {
                    tally.iterations += 1
                    try race.step(tally.iterations, &tally)
                    if tally.failure != nil { break }
                }
            } catch {
                tally.failure = "\(error)"
            }
            return tally
        }
        if let failure = tallies.compactMap(\.failure).first { throw c.fail(failure) }

        let writes = try object.global("writes", as: UInt64.self).pointee
        let reads = try object.global("reads", as: UInt64.self).pointee
        let programTorn = try object.global("torn_reads", as: UInt64.self).pointee
        let missing = try object.global("missing", as: UInt64.self).pointee
        let userReads = tallies.map(\.iterations).reduce(0, +) / 4
        let userTorn = tallies.map(\.torn).reduce(0, +)
        let unlockedTorn = tallies.map(\.loggedTorn).reduce(0, +)
        context.log(
            "\(variant.name): \(writes) locked writes and \(reads) locked reads by programs "
                + "(\(programTorn) torn), \(userReads) BPF_F_LOCK lookups (\(userTorn) torn); "
                + "for comparison \(unlockedTorn) of \(userReads) lookups without BPF_F_LOCK "
                + "were torn")
        try c.equal(missing, 0, "program runs that found no element")
        try c.expect(writes > 0 && reads > 0, "no program ran within \(seconds) s")
        try c.equal(programTorn, 0, "reads under bpf_spin_lock() that saw a torn value")
        try c.equal(userTorn, 0, "lookups with BPF_F_LOCK that saw a torn value")
    }

    /// The same value type in any other hash map type: map creation fails
    /// with `EOPNOTSUPP`. Creating a HASH with the same BTF first proves
    /// that the refusal is about the type.
    static func refused(_ context: TestContext, _ variant: HashVariant) throws {
        let c = HashCheck(context: context, variant: variant)
        let object = try BPFObject(path: context.objectPath(objectName))
        guard let btf = bpf_object__btf(object.raw) else {
            throw c.fail("hash_spin_lock has no BTF")
        }
        let keyType = btf__find_by_name_kind(btf, "__u32", 8)  // BTF_KIND_TYPEDEF
        let valueType = btf__find_by_name_kind(btf, "lock_value", 4)  // BTF_KIND_STRUCT
        try c.expect(keyType > 0 && valueType > 0, "no BTF for __u32 or struct lock_value")

        func create(_ type: bpf_map_type) -> Int32 {
            var opts = bpf_map_create_opts()
            opts.sz = MemoryLayout<bpf_map_create_opts>.size
            opts.btf_fd = UInt32(btf__fd(btf))
            opts.btf_key_type_id = UInt32(keyType)
            opts.btf_value_type_id = UInt32(valueType)
            let fd = bpf_map_create(type, "hash_lock", 4, UInt32(valueWords * 8), 4, &opts)
            if fd < 0 { return -fd }
            close(fd)
            return 0
        }
        try c.errno(
            create(BPF_MAP_TYPE_HASH), 0,
            "control: creating a HASH whose value holds a bpf_spin_lock")
        try c.errno(
            create(variant.type), EOPNOTSUPP,
            "creating a map whose value holds a bpf_spin_lock")
    }
}

/// One CPU's turn in `hash/spin_lock`.
struct HashLockRace {
    let fd: Int32
    let write: OpaquePointer
    let read: OpaquePointer
    var key: UInt32 = 0

    /// All 14 words set to `words`; the lock word is ignored by the kernel.
    func update(words: UInt64) -> Int32 {
        var k = key
        var value = [0] + [UInt64](repeating: words, count: HashSpinLockTests.valueWords - 1)
        let rc = value.withUnsafeMutableBytes {
            bpf_map_update_elem(fd, &k, $0.baseAddress, UInt64(BPF_F_LOCK))
        }
        return rc < 0 ? -rc : 0
    }

    func lookup(flags: UInt64) -> (Int32, [UInt64]) {
        var k = key
        var value = [UInt64](repeating: 0, count: HashSpinLockTests.valueWords)
        let rc = value.withUnsafeMutableBytes {
            bpf_map_lookup_elem_flags(fd, &k, $0.baseAddress, flags)
        }
        return (rc < 0 ? -rc : 0, value)
    }

    /// Does one of the four operations, by turn; a torn locked lookup
    /// counts in `torn`, a torn unlocked one only in `loggedTorn`.
    func step(_ iteration: Int, _ tally: inout HashThreadTally) throws {
        let stamp = UInt64(tally.cpu + 1) << 48 | UInt64(iteration) << 8
        switch iteration % 4 {
        case 0: try HashProgram.runPacket(write, repeat: 4)
        case 1: try HashProgram.runPacket(read, repeat: 4)
        case 2:
            let rc = update(words: stamp)
            if rc != 0 {
                tally.failure = "update with BPF_F_LOCK failed: \(HashNames.errno(rc))"
            }
        default:
            let (rc, value) = lookup(flags: UInt64(BPF_F_LOCK))
            if rc != 0 {
                tally.failure = "lookup with BPF_F_LOCK failed: \(HashNames.errno(rc))"
            } else if Set(value.dropFirst()).count != 1 {
                tally.torn += 1
            }
            let (_, unlocked) = lookup(flags: 0)
            if Set(unlocked.dropFirst()).count != 1 { tally.loggedTorn += 1 }
        }
    }
}

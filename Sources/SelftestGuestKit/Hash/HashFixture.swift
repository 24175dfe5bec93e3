import CLibbpf
import Glibc

/// `progs/hash_ops.bpf.c` loaded with its `target` map set to one variant,
/// and the operations the tests do on that map from user space and from
/// the programs.
final class HashFixture {
    static let objectName = "hash_ops"

    let variant: HashVariant
    let object: BPFObject
    let map: BPFMap
    let maxEntries: Int
    /// Value slots per key in user-space calls: 1, or the possible CPUs.
    let slots: Int
    let possibleCPUs: Int

    init(_ context: TestContext, _ variant: HashVariant, maxEntries: Int) throws {
        let possible = Int(libbpf_num_possible_cpus())
        guard possible > 0 else {
            throw context.fail(
                "libbpf_num_possible_cpus() failed: \(HashNames.errno(-Int32(possible)))")
        }
        self.variant = variant
        self.maxEntries = maxEntries
        self.possibleCPUs = possible
        self.slots = variant.isPerCPU ? possible : 1
        object = try BPFObject(path: context.objectPath(Self.objectName)) { raw in
            guard let target = bpf_object__find_map_by_name(raw, "target"),
                let percpuReader = bpf_object__find_program_by_name(raw, "read_percpu")
            else { throw BPFError(call: "find target map in hash_ops", errno: ENOENT, log: "") }
            try check(bpf_map__set_type(target, variant.type), "set type of target")
            try check(bpf_map__set_map_flags(target, variant.flags), "set flags of target")
            try check(
                bpf_map__set_max_entries(target, UInt32(maxEntries)), "set size of target")
            // The verifier refuses bpf_map_lookup_percpu_elem() on a shared map.
            try check(
                bpf_program__set_autoload(percpuReader, variant.isPerCPU),
                "set autoload of read_percpu")
        }
        map = try object.map("target")
    }

    // MARK: user space

    /// The same value in every slot.
    func update(_ key: HashKey, _ value: HashValue, flags: UInt64 = UInt64(BPF_ANY)) -> Int32 {
        update(key, slots: Array(repeating: value, count: slots), flags: flags)
    }

    func update(_ key: HashKey, slots values: HashSlots, flags: UInt64) -> Int32 {
        precondition(values.count == slots, "one value per slot")
        var k = key
        var v = values
        let rc = v.withUnsafeMutableBytes { bpf_map_update_elem(map.fd, &k, $0.baseAddress, flags) }
        return rc < 0 ? -rc : 0
    }

    /// The slots of `key`, or the errno of the lookup.
    func lookup(_ key: HashKey, flags: UInt64 = 0) -> (errno: Int32, slots: HashSlots) {
        var k = key
        var v = HashSlots(repeating: .zero, count: slots)
        let rc = v.withUnsafeMutableBytes {
            bpf_map_lookup_elem_flags(map.fd, &k, $0.baseAddress, flags)
        }
        return rc < 0 ? (-rc, []) : (0, v)
    }

    func delete(_ key: HashKey) -> Int32 {
        var k = key
        let rc = bpf_map_delete_elem(map.fd, &k)
        return rc < 0 ? -rc : 0
    }

    /// `bpf_map_get_next_key`: the key after `key` (after nothing: the first).
    func nextKey(after key: HashKey?) -> (errno: Int32, key: HashKey) {
        var next = HashKey.number(-1)
        var rc: Int32
        if var current = key {
            rc = bpf_map_get_next_key(map.fd, &current, &next)
        } else {
            rc = bpf_map_get_next_key(map.fd, nil, &next)
        }
        return rc < 0 ? (-rc, next) : (0, next)
    }

    /// Every key, walking from the first; bounded, so a cycle cannot hang.
    func keys() -> [HashKey] {
        var found: [HashKey] = []
        var current: HashKey?
        while found.count <= maxEntries * 2 + 16 {
            let (rc, next) = nextKey(after: current)
            if rc != 0 { break }
            found.append(next)
            current = next
        }
        return found
    }

    /// Distinct slots derived from `seed`: slot `i` holds `stamp(seed + i << 32)`.
    func distinctSlots(_ seed: UInt64) -> HashSlots {
        (0..<slots).map { HashValue.stamp(seed &+ UInt64($0) << 32) }
    }

    // MARK: programs

    func global<T>(_ name: String, as type: T.Type = T.self) throws -> UnsafeMutablePointer<T> {
        try object.global(name, as: type)
    }

    /// What `run_op` or `read_percpu` left in the `out_*` globals.
    struct ProgramResult {
        var ret: Int64
        var found: Bool
        var value: HashValue
        var cpu: Int
        /// The helper's `-errno` as a positive errno (0 on success).
        var errno: Int32 { ret < 0 ? Int32(truncatingIfNeeded: -ret) : 0 }
    }

    enum Op: UInt64 {
        case update = 1, lookup, delete, write, add, check
    }

    /// The CPU this thread was last pinned to by `run`.
    private var pinned: Int?

    /// Pins this thread to `cpu` before a run there, so the run happens in
    /// this thread's context rather than in an IPI on the other CPU.
    private func pin(_ cpu: Int) throws {
        if pinned != cpu {
            try Libc.pin(to: cpu)
            pinned = cpu
        }
    }

    /// Runs one `run_op` operation on `key` on `cpu` and returns its result.
    func run(
        _ op: Op, _ key: HashKey, _ value: HashValue = .zero, arg: UInt64 = 0, cpu: Int = 0
    ) throws -> ProgramResult {
        try pin(cpu)
        try global("arg_key", as: HashKey.self).pointee = key
        try global("arg_value", as: HashValue.self).pointee = value
        try global("out_ret", as: Int64.self).pointee = Int64.min
        try global("out_found", as: UInt32.self).pointee = 0
        try global("out_cpu", as: UInt32.self).pointee = UInt32.max
        _ = try HashProgram.run(object.program("run_op"), [op.rawValue, arg], cpu: cpu)
        return try result(expectingCPU: cpu)
    }

    /// `bpf_map_lookup_percpu_elem(target, key, slot)` run on `cpu`.
    func readPercpu(_ key: HashKey, slot: UInt64, cpu: Int = 0) throws -> ProgramResult {
        try pin(cpu)
        try global("arg_key", as: HashKey.self).pointee = key
        try global("out_ret", as: Int64.self).pointee = Int64.min
        try global("out_found", as: UInt32.self).pointee = 0
        try global("out_cpu", as: UInt32.self).pointee = UInt32.max
        _ = try HashProgram.run(object.program("read_percpu"), [slot], cpu: cpu)
        return try result(expectingCPU: cpu)
    }

    /// The `out_*` globals; a run on another CPU than asked would make
    /// every per-CPU conclusion wrong, so it fails the test.
    private func result(expectingCPU cpu: Int) throws -> ProgramResult {
        let result = ProgramResult(
            ret: try global("out_ret", as: Int64.self).pointee,
            found: try global("out_found", as: UInt32.self).pointee != 0,
            value: try global("out_value", as: HashValue.self).pointee,
            cpu: Int(try global("out_cpu", as: UInt32.self).pointee))
        if result.cpu != cpu {
            throw TestStop.fail(
                "\(variant.label): a program run with BPF_F_TEST_RUN_ON_CPU \(cpu) reported "
                    + "CPU \(result.cpu)")
        }
        return result
    }
}

/// `BPF_PROG_TEST_RUN` for the `raw_tp` programs of the hash tests.
enum HashProgram {
    /// Runs `program` once with `args` as its context (`u64 ctx[]`), on
    /// `cpu` when given; returns the program's return value.
    @discardableResult
    static func run(_ program: OpaquePointer, _ args: [UInt64], cpu: Int? = nil) throws -> UInt32 {
        var ctx = args + Array(repeating: 0, count: max(0, 8 - args.count))
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        if let cpu {
            opts.cpu = UInt32(cpu)
            opts.flags = UInt32(BPF_F_TEST_RUN_ON_CPU)
        }
        let rc = ctx.withUnsafeMutableBytes { buffer in
            opts.ctx_in = UnsafeRawPointer(buffer.baseAddress)
            opts.ctx_size_in = UInt32(buffer.count)
            return bpf_prog_test_run_opts(bpf_program__fd(program), &opts)
        }
        let name = String(cString: bpf_program__name(program))
        try check(rc, "BPF_PROG_TEST_RUN of \(name) on CPU \(cpu.map(String.init) ?? "any")")
        return opts.retval
    }

    /// Runs a `tc` program `repeat` times on a dummy packet, on the CPU the
    /// calling thread is pinned to (packet programs cannot choose one).
    static func runPacket(_ program: OpaquePointer, repeat count: Int) throws {
        var packet = [UInt8](repeating: 0, count: 64)
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        opts.repeat = Int32(count)
        let rc = packet.withUnsafeMutableBytes { buffer in
            opts.data_in = UnsafeRawPointer(buffer.baseAddress)
            opts.data_size_in = UInt32(buffer.count)
            return bpf_prog_test_run_opts(bpf_program__fd(program), &opts)
        }
        try check(rc, "BPF_PROG_TEST_RUN of \(String(cString: bpf_program__name(program)))")
    }
}

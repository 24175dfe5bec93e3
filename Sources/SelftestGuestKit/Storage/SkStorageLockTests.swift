import CLibbpf
import Glibc

extension SkStorageAccessTests {
    /// Increments per adding thread; each is one `setsockopt()`.
    static let lockedAdds = 2000

    /// A value holding a `struct bpf_spin_lock`: `BPF_F_LOCK` updates in
    /// place (no new element, no new charge) and lookups copy under the lock;
    /// two threads adding under the lock from BPF while a third reads with
    /// `BPF_F_LOCK` never show a half-done update, and lose no increment.
    static func spinLockValue(_ context: TestContext) throws {
        let program = try SkOpsProgram(context)
        let map = try program.map("sk_locked")
        let socket = try TestSocket.tcp()
        let what = "SK_STORAGE with a bpf_spin_lock value"

        try context.expectEqual(
            map.update(socket.fd, SkLockedValue(a: 1000, b: 1000), flags: lock), 0,
            "\(what): first update BPF_ANY|BPF_F_LOCK, errno")
        let charged = try socket.optmem()
        try context.expectEqual(
            map.update(socket.fd, SkLockedValue(a: 5, b: 5), flags: lock | exist), 0,
            "\(what): update BPF_EXIST|BPF_F_LOCK, errno")
        try context.expectEqual(
            try socket.optmem(), charged,
            "optmem after an in-place BPF_F_LOCK update (no new element may be charged)")
        try context.expectEqual(
            errnoName(map.update(socket.fd, SkLockedValue(a: 6, b: 6), flags: lock | noexist)),
            errnoName(EEXIST), "\(what): update BPF_NOEXIST|BPF_F_LOCK on an existing element")
        let start = try map.lookup(socket.fd, as: SkLockedValue.self, flags: lock).get()
        try context.expectEqual(
            [start.a, start.b], [5, 5], "\(what): counters read with BPF_F_LOCK after the update")

        let fd = socket.fd
        let level = SkOpsProgram.level
        let op = SkOpsProgram.Op.lockedAdd.rawValue
        let adds = lockedAdds
        // Threads 0 and 1 add from BPF; thread 2 reads under the lock until
        // both are done. The adders go on past `adds` until the reader has
        // made `overlapReads` reads (bounded by time): on one host thread
        // (single-threaded TCG) or a kernel without preemption, the adders
        // could otherwise finish before the reader ever ran.
        let overlapReads = 100
        let ready = SharedCounter()
        let finished = SharedCounter()
        let readsSoFar = SharedCounter()
        let results = try Threads.run(3) {
            index -> (failures: Int, adds: Int, reads: Int, torn: Int) in
            ready.add(1)
            while ready.current < 3 {}
            if index < 2 {
                var failures = 0
                var done = 0
                var argument: UInt64 = 0
                let size = socklen_t(MemoryLayout<UInt64>.size)
                let deadline = Clock.now() + 3
                while done < adds || (readsSoFar.current < overlapReads && Clock.now() < deadline) {
                    if setsockopt(fd, level, op, &argument, size) != 0 { failures += 1 }
                    done += 1
                }
                finished.add(1)
                return (failures, done, 0, 0)
            }
            var reads = 0
            var torn = 0
            while finished.current < 2 {
                if case .success(let value) = map.lookup(fd, as: SkLockedValue.self, flags: lock) {
                    reads += 1
                    readsSoFar.add(1)
                    if value.a != value.b { torn += 1 }
                }
            }
            return (0, 0, reads, torn)
        }
        let failures = results[0].failures + results[1].failures
        try context.expect(
            results[2].reads >= overlapReads,
            "only \(results[2].reads) locked reads overlapped the updates within 3 s")
        try context.expectEqual(failures, 0, "setsockopt() failures in the adding threads")
        try context.expectEqual(
            try program.u32("locked_misses"), 0,
            "bpf_sk_storage_get(F_CREATE) returning NULL for the locked value")
        try context.expectEqual(
            results[2].torn, 0,
            "\(what): BPF_F_LOCK lookups with a != b (of \(results[2].reads)) while BPF "
                + "updated both under bpf_spin_lock")
        let end = try map.lookup(socket.fd, as: SkLockedValue.self, flags: lock).get()
        let expected = UInt64(5 + results[0].adds + results[1].adds)
        try context.expectEqual(
            [end.a, end.b], [expected, expected],
            "\(what): counters after \(expected - 5) increments under bpf_spin_lock")
        context.log(
            "\(expected - 5) locked increments from 2 threads; \(results[2].reads) locked reads "
                + "meanwhile, none torn")
    }
}

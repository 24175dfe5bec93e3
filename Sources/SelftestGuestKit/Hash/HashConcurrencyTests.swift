import CLibbpf
import Glibc

/// What one thread of a concurrency test did.
struct HashThreadTally {
    var cpu: Int
    var iterations = 0
    var torn = 0
    var missing = 0
    /// Tears that the test only reports (reads made without the lock).
    var loggedTorn = 0
    var failure: String?
}

/// Several CPUs on one element at once: atomic adds sum exactly, and a
/// replaced value is never seen half old, half new.
enum HashConcurrencyTests {
    /// Bounds for every loop: a count, and a wall clock in case TCG is slow.
    static let seconds = 1.0
    static let addsPerRun: UInt64 = 400
    static let maxRuns = 40
    static let maxIterations = 20_000

    /// Programs on every CPU run `__sync_fetch_and_add` on one element at
    /// once; the value (or, per-CPU, each CPU's slot) equals exactly the
    /// number of adds the programs completed.
    static func atomicAdd(_ context: TestContext) throws {
        let cpus = try HashPerCPUTests.cpus(context)
        HashVariant.each(HashVariant.all, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 16)
            let c = HashCheck(context: context, variant: variant)
            let key = HashKey.number(42)
            try c.errno(f.update(key, .zero), 0, "update of \(key) to zero")
            try f.global("arg_key", as: HashKey.self).pointee = key
            let program = try f.object.program("run_op")
            let deadline = Clock.now() + seconds

            let tallies = try Threads.run(cpus.count) { index -> HashThreadTally in
                var tally = HashThreadTally(cpu: cpus[index])
                do {
                    try Libc.pin(to: tally.cpu)
                    while tally.iterations < maxRuns && Clock.now() < deadline {
                        let rv = try HashProgram.run(
                            program,
                            [HashFixture.Op.add.rawValue, addsPerRun, UInt64(cpus.count)],
                            cpu: tally.cpu)
                        if rv != 0 {
                            tally.failure = "a program on CPU \(tally.cpu) lost the element"
                            break
                        }
                        tally.iterations += 1
                    }
                } catch {
                    tally.failure = "\(error)"
                }
                return tally
            }
            if let failure = tallies.compactMap(\.failure).first { throw c.fail(failure) }

            let calls = try f.global("add_calls", as: UInt64.self)
            var total: UInt64 = 0
            for tally in tallies {
                let want = UInt64(tally.iterations) * addsPerRun
                try c.equal(
                    calls[tally.cpu], want, "adds the programs completed on CPU \(tally.cpu)")
                total += want
            }
            let overlaps = try f.global("overlaps", as: UInt64.self).pointee
            context.log(
                "\(variant.name): \(total) adds from \(cpus.count) CPUs ("
                    + tallies.map { "CPU \($0.cpu): \($0.iterations) runs" }.joined(
                        separator: ", ") + "), \(overlaps) runs overlapped another")
            try c.expect(total > 0, "no program run completed within \(seconds) s")
            try c.expect(
                overlaps > 0,
                "no two program runs overlapped within \(seconds) s, so the sum proves nothing "
                    + "about atomicity")

            let (rc, slots) = f.lookup(key)
            try c.errno(rc, 0, "lookup of \(key) after the adds")
            if variant.isPerCPU {
                for tally in tallies {
                    try c.equal(
                        slots[tally.cpu].w0, calls[tally.cpu],
                        "slot of CPU \(tally.cpu) after its programs' atomic adds")
                }
            } else {
                try c.equal(slots[0].w0, total, "value after atomic adds from \(cpus.count) CPUs")
            }
            try c.expect(
                slots.allSatisfy { $0.words.dropFirst().allSatisfy { $0 == 0 } },
                "the adds touched words other than the counter: \(c.describe(slots))")
        }
    }

    /// While CPU 0 replaces an element over and over (from user space with
    /// `BPF_ANY`, and from a program), readers on CPU 1 (user space and a
    /// program) always find it: the new element is linked before the old
    /// one is unlinked.
    ///
    /// Torn values are counted and logged, not failed: every writer stores
    /// a uniform value, so a non-uniform read is torn, and 6.12 does tear.
    /// A per-CPU update copies into the existing slots in place, and a
    /// replaced element is reused (prealloc `extra_elems`, the LRU free
    /// list, `bpf_mem_alloc`) before a reader that found it is done, so
    /// only `BPF_F_LOCK` (`hash/spin_lock`) gives whole-value reads.
    static func updateAtomic(_ context: TestContext) throws {
        let cpus = try HashPerCPUTests.cpus(context)
        HashVariant.each(HashVariant.all, context) { variant in
            let f = try HashFixture(context, variant, maxEntries: 16)
            let c = HashCheck(context: context, variant: variant)
            let key = HashKey.number(9)
            try c.errno(f.update(key, .uniform(1)), 0, "update of \(key)")
            try f.global("arg_key", as: HashKey.self).pointee = key
            let race = try HashReplaceRace(
                fixture: f, program: f.object.program("run_op"),
                argValue: f.global("arg_value"), outRet: f.global("out_ret"))
            let deadline = Clock.now() + seconds
            let (writerCPU, readerCPU) = (cpus[0], cpus[1])

            let tallies = try Threads.run(2) { index -> HashThreadTally in
                var tally = HashThreadTally(cpu: index == 0 ? writerCPU : readerCPU)
                do {
                    try Libc.pin(to: tally.cpu)
                    while tally.iterations < maxIterations && Clock.now() < deadline {
                        tally.iterations += 1
                        if index == 0 {
                            try race.replace(generation: UInt64(tally.iterations), &tally)
                        } else {
                            try race.read(iteration: tally.iterations, &tally)
                        }
                        if tally.failure != nil { break }
                    }
                } catch {
                    tally.failure = "\(error)"
                }
                return tally
            }
            if let failure = tallies.compactMap(\.failure).first { throw c.fail(failure) }

            let (replaced, reader) = (tallies[0], tallies[1])
            let programReads = try f.global("checked_reads", as: UInt64.self).pointee
            let programTorn = try f.global("torn_reads", as: UInt64.self).pointee
            let programMissing = try f.global("missing_reads", as: UInt64.self).pointee
            context.log(
                "\(variant.name): \(replaced.iterations) replacements on CPU \(writerCPU); on CPU "
                    + "\(readerCPU) \(reader.iterations) user-space reads (\(reader.missing) "
                    + "missing, \(reader.torn) torn), \(programReads) program reads "
                    + "(\(programMissing) missing, \(programTorn) torn); torn reads are "
                    + "logged, not failed")
            try c.expect(
                replaced.iterations > 0 && reader.iterations > 0 && programReads > 0,
                "the writer or the readers did not run within \(seconds) s")
            try c.equal(
                reader.missing, 0, "user-space lookups that found no element while it was replaced")
            try c.equal(
                programMissing, 0, "program lookups that found no element while it was replaced")
        }
    }
}

/// The two sides of `hash/update_atomic`, with the globals they use found
/// before the threads start.
struct HashReplaceRace {
    let fixture: HashFixture
    let program: OpaquePointer
    let argValue: UnsafeMutablePointer<HashValue>
    let outRet: UnsafeMutablePointer<Int64>
    let key = HashKey.number(9)

    /// One replacement: user space with `BPF_ANY` on even generations, a
    /// program (writing its CPU's slot, for a per-CPU map) on odd ones.
    func replace(generation: UInt64, _ tally: inout HashThreadTally) throws {
        let value = HashValue.uniform(generation)
        if generation % 2 == 0 {
            let rc = fixture.update(key, value)
            if rc != 0 { tally.failure = "update with BPF_ANY failed: \(HashNames.errno(rc))" }
            return
        }
        argValue.pointee = value
        try HashProgram.run(
            program, [HashFixture.Op.update.rawValue, UInt64(BPF_ANY)], cpu: tally.cpu)
        if outRet.pointee != 0 {
            tally.failure = "a program's update with BPF_ANY returned \(outRet.pointee)"
        }
    }

    /// One user-space lookup; every 16th iteration also a program run that
    /// reads the element 32 times on this CPU.
    func read(iteration: Int, _ tally: inout HashThreadTally) throws {
        let (rc, slots) = fixture.lookup(key)
        if rc == ENOENT {
            tally.missing += 1
        } else if rc != 0 {
            tally.failure = "lookup failed: \(HashNames.errno(rc))"
        } else if !slots.allSatisfy(\.isUniform) {
            tally.torn += 1
        }
        if iteration % 16 == 0 {
            try HashProgram.run(program, [HashFixture.Op.check.rawValue, 32], cpu: tally.cpu)
        }
    }
}

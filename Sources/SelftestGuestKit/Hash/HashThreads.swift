import Glibc

/// POSIX threads and CPU pinning for the concurrency tests (the guest has
/// no Foundation and no Dispatch).
enum HashThreads {
    /// The online CPUs, from `/sys/devices/system/cpu/online` (`0-1,3`).
    static func onlineCPUs() -> [Int] {
        guard let text = FD.readFile("/sys/devices/system/cpu/online") else { return [0] }
        var cpus: [Int] = []
        for part in text.trimmingNewline().split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if let low = bounds.first { cpus += Array(low...(bounds.last ?? low)) }
        }
        return cpus.isEmpty ? [0] : cpus
    }

    /// `sched_setaffinity`: the Glibc module leaves out the GNU extensions,
    /// so it is looked up by name once.
    private typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer?) -> Int32
    private static let setAffinity: SetAffinity? = dlsym(
        nil, "sched_setaffinity"
    ).map { unsafeBitCast($0, to: SetAffinity.self) }

    /// Pins the calling thread to `cpu`; throws with the errno if the
    /// kernel refuses, since a per-CPU check on the wrong CPU proves nothing.
    static func pin(to cpu: Int) throws {
        guard let setAffinity else { throw TestStop.fail("sched_setaffinity not found in libc") }
        // A cpu_set_t of 1024 bits, as glibc defines it.
        var mask = [UInt64](repeating: 0, count: 16)
        mask[cpu / 64] |= 1 << UInt64(cpu % 64)
        let rc = mask.withUnsafeBytes { setAffinity(0, $0.count, $0.baseAddress) }
        if rc != 0 {
            throw TestStop.fail("sched_setaffinity to CPU \(cpu): \(errnoName(errno))")
        }
    }

    /// Runs `body(i)` for each `i` in `0..<count` on its own thread, waits
    /// for all of them and returns their results in order.
    static func run<T>(_ count: Int, _ body: @escaping (Int) -> T) throws -> [T] {
        let results = UnsafeMutablePointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil, count: count)
        defer {
            results.deinitialize(count: count)
            results.deallocate()
        }
        var threads: [pthread_t] = []
        var failure: Int32 = 0
        for index in 0..<count {
            let job = HashThreadJob { results[index] = body(index) }
            let raw = Unmanaged.passRetained(job).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, hashThreadMain, raw)
            if rc != 0 {
                Unmanaged<HashThreadJob>.fromOpaque(raw).release()
                failure = rc
                break
            }
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        if failure != 0 { throw TestStop.fail("pthread_create: \(errnoName(failure))") }
        return (0..<count).map { results[$0]! }
    }
}

/// The work of one thread. @unchecked Sendable: the closure runs on the new
/// thread only, and what it writes is read after `pthread_join`, which
/// orders the two.
private final class HashThreadJob: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

private func hashThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    Unmanaged<HashThreadJob>.fromOpaque(raw).takeRetainedValue().work()
    return nil
}

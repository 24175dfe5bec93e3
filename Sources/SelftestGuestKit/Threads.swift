import Glibc

/// POSIX threads for the concurrency, stress and race tests (the guest has
/// no Foundation and no Dispatch).
enum Threads {
    /// Runs `body(i)` for each `i` in `0..<count` on its own thread, joins
    /// them all and returns their results in order. A thread that never
    /// returns (a kernel deadlock) leaves the join hanging: the agent's
    /// per-test bound turns that into a `timeout` verdict.
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
            let job = ThreadJob { results[index] = body(index) }
            let raw = Unmanaged.passRetained(job).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, threadMain, raw)
            if rc != 0 {
                Unmanaged<ThreadJob>.fromOpaque(raw).release()
                failure = rc
                break
            }
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        if failure != 0 { throw SystemCallError(call: "pthread_create", errno: failure) }
        return (0..<count).map { results[$0]! }
    }
}

/// The work of one thread. @unchecked Sendable: the closure runs on the new
/// thread only, and what it writes is read after `pthread_join`, which
/// orders the two.
private final class ThreadJob: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

private func threadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    Unmanaged<ThreadJob>.fromOpaque(raw).takeRetainedValue().work()
    return nil
}

/// A counter the threads of one test share, behind a mutex (a plain
/// variable may be read once and cached by a polling loop).
final class SharedCounter: @unchecked Sendable {
    // @unchecked: every access to `value` holds `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value = 0

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func add(_ amount: Int) {
        pthread_mutex_lock(mutex)
        value += amount
        pthread_mutex_unlock(mutex)
    }

    var current: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return value
    }
}

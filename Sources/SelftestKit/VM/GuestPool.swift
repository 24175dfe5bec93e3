import Foundation
import SelftestCatalog
import Synchronization

/// Runs the tests over several guests at once (`--jobs`), each in a
/// `GuestSession` of its own, under its own directory (`guest-K/boot-M`),
/// with its own console, results port and queue port. Each takes the next
/// test from one shared `TestQueue` as it frees up. A guest that crashes
/// re-boots while tests are still queued; the others go on.
struct GuestPool {
    /// The session every guest runs: the same kernel, image, memory, vCPUs
    /// and bounds. One job runs it as it is, in the run directory itself.
    var session: GuestSession
    var jobs: Int
    /// Each test's seconds on this kernel from the results history, which
    /// order the queue (longest first) better than the catalog's estimates.
    var recorded: [String: Double] = [:]

    /// What every guest produced together: the records in the order of
    /// `tests`, and the phases of the guest that took longest (they add
    /// up to the run's wall time; the others' overlap them).
    func run(
        _ tests: [TestSpec], note: @escaping @Sendable (String) -> Void,
        progress: @escaping @Sendable (TestRecord) -> Void
    ) throws -> GuestSession.Outcome {
        let guests = min(jobs, tests.count)
        guard guests > 1 else {
            return try session.run(tests, note: note, progress: progress)
        }
        let queue = TestQueue(tests, guests: guests, recorded: recorded)
        note(
            "\(tests.count) tests on \(guests) guests at once (--jobs \(jobs)), each taking the "
                + "next as it frees up, longest first by "
                + (recorded.isEmpty ? "the catalog's estimates" : "the times the history recorded"))
        // The observer sees one call at a time, whichever guest it comes from.
        let serial = Serial()
        let results = Results()
        let done = DispatchGroup()
        for index in 0..<guests {
            var guest = session
            guest.runDirectory = session.runDirectory.appendingPathComponent("guest-\(index + 1)")
            done.enter()
            // A thread each, not Dispatch's pool: every guest blocks for its
            // whole run, and the pool may hold fewer threads than guests.
            let thread = Thread { [guest] in
                let result = Result {
                    try guest.run(
                        queue: queue, note: { text in serial.run { note(text) } },
                        progress: { record in serial.run { progress(record) } })
                }
                results.set(index, result)
                done.leave()
            }
            thread.name = "selftests guest \(index + 1)"
            thread.start()
        }
        done.wait()
        // Every guest has stopped (and its QEMU is reaped) before an error
        // of any one of them ends the run.
        let outcomes = try results.all(guests).map { try $0.get() }
        return Self.merge(outcomes, order: tests.map(\.name))
    }

    /// One outcome from the guests': records in `order`, splats and boots
    /// from all, phases from the guest whose boots, tests and teardown took longest.
    static func merge(_ outcomes: [GuestSession.Outcome], order: [String]) -> GuestSession.Outcome {
        let position = Dictionary(
            order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var merged = GuestSession.Outcome()
        merged.records = outcomes.flatMap(\.records).enumerated().sorted { a, b in
            let (pa, pb) = (
                position[a.element.name] ?? Int.max, position[b.element.name] ?? Int.max
            )
            return pa != pb ? pa < pb : a.offset < b.offset
        }.map(\.element)
        merged.unattributedSplats = outcomes.flatMap(\.unattributedSplats)
        merged.kernelRelease = outcomes.lazy.compactMap(\.kernelRelease).first
        merged.boots = outcomes.map(\.boots).reduce(0, +)
        let slowest = outcomes.max { a, b in
            a.phases.values.reduce(0, +) < b.phases.values.reduce(0, +)
        }
        merged.phases = slowest?.phases ?? [:]
        return merged
    }

    /// Calls made one at a time.
    private final class Serial: Sendable {
        private let lock = Mutex(())
        func run(_ body: () -> Void) { lock.withLock { _ in body() } }
    }

    /// Each guest's result, by its index.
    private final class Results: Sendable {
        private let byIndex = Mutex<[Int: Result<GuestSession.Outcome, any Error>]>([:])
        func set(_ index: Int, _ result: Result<GuestSession.Outcome, any Error>) {
            byIndex.withLock { $0[index] = result }
        }
        func all(_ count: Int) -> [Result<GuestSession.Outcome, any Error>] {
            byIndex.withLock { results in
                (0..<count).map {
                    results[$0]
                        ?? .failure(
                            SelftestError(.infrastructure, "guest \($0 + 1) gave no result"))
                }
            }
        }
    }
}

import Foundation
import SelftestCatalog
import Synchronization

/// The tests several guests share (`--jobs`): each guest takes the next as
/// it becomes free, so no guest idles while another still has a list to
/// run, whatever the tests really take on this kernel and host. Fixed
/// shares balanced by estimates or recorded times left up to a second of
/// one guest's wall idle on the other (scripts/bench-jobs.sh).
///
/// The longest tests go first, so the last ones handed out, which decide
/// how evenly the guests end, are the shortest.
final class TestQueue: Sendable {
    private struct State {
        var tests: [TestSpec]
        /// Guests that may still take tests: neither ended nor retired.
        var guests: Int
    }

    private let state: Mutex<State>
    /// Each queued test's bound, for the host's watchdog.
    let timeouts: [String: Int]

    /// `tests`, longest first by `recorded` seconds (the results history)
    /// or the catalog's estimates, for `guests` guests.
    init(_ tests: [TestSpec], guests: Int, recorded: [String: Double] = [:]) {
        state = Mutex(State(tests: Self.longestFirst(tests, recorded: recorded), guests: guests))
        timeouts = Dictionary(
            tests.map { ($0.name, $0.timeoutSeconds) }, uniquingKeysWith: { first, _ in first })
    }

    /// `tests` from the longest to the shortest: a test's `recorded`
    /// seconds when the history has them, its `expectedSeconds` otherwise;
    /// ties keep the order of `tests`.
    static func longestFirst(_ tests: [TestSpec], recorded: [String: Double]) -> [TestSpec] {
        let seconds = tests.map { test in
            recorded[test.name].flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
                ?? test.expectedSeconds
        }
        return tests.indices.sorted { a, b in
            seconds[a] != seconds[b] ? seconds[a] > seconds[b] : a < b
        }.map { tests[$0] }
    }

    /// The next test, taken out of the queue; nil when none is left. A
    /// test handed `ahead`, to a guest still busy with another, is refused
    /// (nil) once fewer tests are left than guests: each of the others may
    /// be free before this one, and none should idle while it holds two.
    func next(ahead: Bool = false) -> TestSpec? {
        state.withLock { state in
            if state.tests.isEmpty || (ahead && state.tests.count < state.guests) { return nil }
            return state.tests.removeFirst()
        }
    }

    var isEmpty: Bool { state.withLock { $0.tests.isEmpty } }

    /// Tests a guest took but did not run (its kernel died first): back at
    /// the head of the queue, for whichever guest is free next.
    func putBack(_ tests: [TestSpec]) {
        guard !tests.isEmpty else { return }
        state.withLock { $0.tests.insert(contentsOf: tests, at: 0) }
    }

    /// Takes the tests named in `names` out of the queue: a guest reported
    /// them, whether or not it was handed them.
    func remove(_ names: Set<String>) {
        state.withLock { $0.tests.removeAll { names.contains($0.name) } }
    }

    /// Everything left, taken out of the queue.
    func drain() -> [TestSpec] {
        state.withLock { Self.takeAll(&$0) }
    }

    private static func takeAll(_ state: inout State) -> [TestSpec] {
        defer { state.tests = [] }
        return state.tests
    }

    /// A guest stops taking tests. The last one to stop gets the tests
    /// still queued, to give each a verdict (a guest that cannot boot
    /// judges them by its boot); while another guest runs, they are its.
    func leave() -> [TestSpec] {
        state.withLock { state in
            state.guests -= 1
            return state.guests <= 0 ? Self.takeAll(&state) : []
        }
    }
}

import SelftestKit
import Synchronization

/// A run's observer for tests: keeps every note and every record reported
/// live, from whichever thread the pipeline calls it on.
public final class RunRecorder: RunObserver {
    private let said = Mutex<[String]>([])
    private let reported = Mutex<[TestRecord]>([])

    public init() {}

    /// The notes, in the order they were said.
    public var notes: [String] { said.withLock { $0 } }
    /// The records reported as their tests finished.
    public var live: [TestRecord] { reported.withLock { $0 } }

    public func note(_ text: String) { said.withLock { $0.append(text) } }
    public func finished(_ record: TestRecord) { reported.withLock { $0.append(record) } }
}

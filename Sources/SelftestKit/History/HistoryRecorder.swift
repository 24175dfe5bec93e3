import Foundation
import Synchronization

/// The store as a run uses it: it never fails the run nor changes its
/// verdict. A store that cannot be opened or written (a read-only cache, a
/// file that is not a database) is said in one warning naming the file,
/// and the run goes on without history.
public final class HistoryRecorder: Sendable {
    public let location: URL
    private let warn: @Sendable (String) -> Void
    private enum State {
        case unopened
        case open(HistoryStore)
        case failed
    }
    private let state = Mutex<State>(.unopened)

    /// `warn` gets one line, without the `selftests: ` prefix.
    public init(
        cache: Cache,
        warn: @escaping @Sendable (String) -> Void = { line in
            FileHandle.standardError.write(Data("selftests: \(line)\n".utf8))
        }
    ) {
        self.location = HistoryStore.location(in: cache)
        self.warn = warn
    }

    /// The open store; nil, once warned, when it cannot be opened.
    private func store() -> HistoryStore? {
        state.withLock { state in
            switch state {
            case .open(let store): return store
            case .failed: return nil
            case .unopened:
                do {
                    let store = try HistoryStore(path: location.path)
                    state = .open(store)
                    return store
                } catch {
                    state = .failed
                    warn(Self.warning(location, "cannot be opened", error))
                    return nil
                }
            }
        }
    }

    /// Records `report` as a run of `kind` (a series step's with its
    /// key); its id, or nil once a failure is warned about.
    @discardableResult
    public func record(_ report: RunReport, kind: RunKind, step: StepRecording? = nil) -> Int64? {
        using("cannot be written") { try $0.record(report, kind: kind, step: step) }
    }

    /// The earlier whole results under a series step's `key`; nil when
    /// there are none or the store cannot be read.
    public func reusable(key: String, tests: [String]) -> ReusableStep? {
        using("cannot be read") { try $0.reusable(key: key, tests: tests) } ?? nil
    }

    /// Per map, the run-to-run noise of its measured bytes (see
    /// `HistoryStore.memoryNoise`); empty when the store cannot be read.
    public func memoryNoise() -> [String: Int] {
        using("cannot be read") { try $0.memoryNoise() } ?? [:]
    }

    /// Records a step that took run `original`'s results.
    public func recordReuse(of original: Int64, kind: RunKind, key: String) {
        _ = using("cannot be written") { try $0.recordReuse(of: original, kind: kind, key: key) }
    }

    /// `body` on the open store; nil, warned once, when it fails.
    private func using<T>(_ what: String, _ body: (HistoryStore) throws -> T) -> T? {
        guard let store = store() else { return nil }
        do {
            return try body(store)
        } catch {
            state.withLock { $0 = .failed }
            warn(Self.warning(location, what, error))
            return nil
        }
    }

    /// What the history says about each test of `report`, from the
    /// verdicts recorded on its kernel before it (call before `record`).
    public func notes(for report: RunReport) -> [String: HistoryNote] {
        using("cannot be read") { store in
            let earlier = try store.results(
                onKernel: KernelKey.of(report), tests: report.records.map(\.name))
            return HistoryClassifier.notes(for: report, earlier: earlier)
        } ?? [:]
    }

    /// `report` with each record's note set; then recorded as `kind`.
    public func classifyAndRecord(_ report: RunReport, kind: RunKind) -> RunReport {
        var report = report
        let notes = notes(for: report)
        for index in report.records.indices {
            report.records[index].history = notes[report.records[index].name]
        }
        record(report, kind: kind)
        return report
    }

    static func warning(_ location: URL, _ what: String, _ error: any Error) -> String {
        let reason = String(describing: error).split(separator: "\n").first.map(String.init) ?? ""
        return "warning: the results history \(location.path) \(what) (\(reason)); "
            + "the run goes on without it (--no-history skips it)"
    }
}

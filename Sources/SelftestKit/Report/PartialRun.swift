import Foundation
import Synchronization

/// What a run has finished so far, kept as it goes, so that an interrupted
/// run still leaves its reports: the tests that ended with their verdicts,
/// the rest `not-run` with the reason. It wraps the run's observer and sees
/// each record as the terminal does.
public final class PartialRun: RunObserver, Sendable {
    private let inner: RunObserver
    private let kernel: String
    private let selected: [String]
    private let started = Date()
    private let finished = Mutex<[TestRecord]>([])

    /// `selected`: the tests the run was asked for, in order.
    public init(wrapping inner: RunObserver, kernel: String, selected: [String]) {
        self.inner = inner
        self.kernel = kernel
        self.selected = selected
    }

    public func note(_ text: String) { inner.note(text) }

    public func finished(_ record: TestRecord) {
        finished.withLock { $0.append(record) }
        inner.finished(record)
    }

    /// The report as it stands: every finished record, then each selected
    /// test that has none as `not-run`, saying why.
    public func report(interruptedBecause reason: String) -> RunReport {
        let done = finished.withLock { $0 }
        let names = Set(done.map(\.name))
        var report = RunReport(
            kernel: kernel, accelerator: "none",
            startedAt: ISO8601DateFormatter().string(from: started))
        report.records =
            done
            + selected.filter { !names.contains($0) }.map {
                TestRecord(
                    name: $0, outcome: .notRun,
                    message: "the run was interrupted (\(reason)) before this test finished")
            }
        report.phases["total"] = Date().timeIntervalSince(started)
        report.interruption = reason
        return report
    }
}

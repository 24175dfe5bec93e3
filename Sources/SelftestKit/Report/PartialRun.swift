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

    /// Once an interrupt has begun, a record is the runner's own kill of
    /// the guest seen as a verdict (the test "stopped" with QEMU): it is
    /// neither kept nor shown. With several guests, killing one QEMU after
    /// another leaves the others time to report one.
    public func finished(_ record: TestRecord) {
        guard InterruptHandler.cause == nil else { return }
        finished.withLock { $0.append(record) }
        inner.finished(record)
    }

    /// The report as it stands: every selected test in order, with its
    /// record or, when it has none, as `not-run`, saying why; then the
    /// records of tests not in `selected` (test_progs'), as they finished.
    /// Several guests finish tests out of order; the report keeps the
    /// selection's.
    public func report(interruptedBecause reason: String) -> RunReport {
        let done = finished.withLock { $0 }
        let names = Set(done.map(\.name))
        var report = RunReport(
            kernel: kernel, accelerator: .noGuest,
            startedAt: ISO8601DateFormatter().string(from: started))
        let notRun = selected.filter { !names.contains($0) }.map {
            TestRecord(
                name: $0, outcome: .notRun,
                message: "the run was interrupted (\(reason)) before this test finished")
        }
        let position = Dictionary(
            selected.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        report.records = (done + notRun).enumerated().sorted { a, b in
            let pa = position[a.element.name] ?? Int.max
            let pb = position[b.element.name] ?? Int.max
            return pa != pb ? pa < pb : a.offset < b.offset
        }.map(\.element)
        report.phases["total"] = Date().timeIntervalSince(started)
        report.interruption = reason
        return report
    }
}

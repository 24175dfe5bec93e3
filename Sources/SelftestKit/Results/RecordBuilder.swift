/// Turns parsed KTAP results and console splats into `TestRecord` verdicts.
public enum RecordBuilder {
    /// One record per top-level result, with cases as subtests named `parent/child`.
    ///
    /// Outcome: `ok` is pass, `not ok` is fail; `# SKIP` is skip, `# TIMEOUT`
    /// timeout, `not ok # TODO` skip (known broken). Diagnostics starting
    /// `error: ` become the message (joined by newlines, without the prefix);
    /// without them a skip, timeout or error reason is the message.
    /// `duration_ms: N` becomes `duration` in seconds; the other diagnostics
    /// stay. Tests that started but have no result are not included: see
    /// `KTAPDocument.unfinishedTests`.
    public static func records(from document: KTAPDocument) -> [TestRecord] {
        document.results.map { record(from: $0, prefix: nil) }
    }

    static func record(from result: KTAPResult, prefix: String?) -> TestRecord {
        let name = prefix.map { "\($0)/\(result.name)" } ?? result.name
        if prefix == nil && name.hasPrefix(TestProgsOutput.suite + "/") {
            return testProgsRecord(from: result)
        }
        var errors: [String] = []
        var diagnostics: [String] = []
        var duration: Double?
        for line in result.diagnostics {
            if line.hasPrefix("error: ") {
                errors.append(String(line.dropFirst(7)))
            } else if line.hasPrefix("duration_ms: "), let ms = Double(line.dropFirst(13)) {
                duration = ms / 1000
            } else {
                diagnostics.append(line)
            }
        }
        let reason = result.directive?.reason ?? ""
        let message =
            errors.isEmpty ? (reason.isEmpty ? nil : reason) : errors.joined(separator: "\n")
        return TestRecord(
            name: name, outcome: outcome(of: result), duration: duration, message: message,
            diagnostics: diagnostics,
            subtests: result.subtests.map { record(from: $0, prefix: name) })
    }

    /// A test_progs entry: the agent passed on test_progs' lines and how it
    /// ended; its verdict and subtests come from those, not from the agent's
    /// own `ok`/`not ok`.
    static func testProgsRecord(from result: KTAPResult) -> TestRecord {
        var lines: [String] = []
        var end: TestProgsEnd?
        var duration: Double?
        for line in result.diagnostics {
            if line.hasPrefix(TestProgsOutput.lineTag) {
                lines.append(String(line.dropFirst(TestProgsOutput.lineTag.count)))
            } else if line.hasPrefix(TestProgsOutput.endTag) {
                end = TestProgsEnd(agentLine: String(line.dropFirst(TestProgsOutput.endTag.count)))
            } else if line.hasPrefix("duration_ms: "), let ms = Double(line.dropFirst(13)) {
                duration = ms / 1000
            }
        }
        return TestProgsOutput.record(name: result.name, lines: lines, end: end, duration: duration)
    }

    static func outcome(of result: KTAPResult) -> Outcome {
        switch result.directive?.kind {
        case .skip: .skip
        case .timeout: .timeout
        case .todo: result.ok ? .pass : .skip
        case .xfail, .error, nil: result.ok ? .pass : .fail
        }
    }

    /// Attaches each splat to the record named by its `test`.
    ///
    /// A `pass` record with a non-crash splat becomes `splat`; a crash (panic,
    /// oops) makes the record `kernel-crash`, an OOM kill `out-of-memory`,
    /// unless its outcome is already worse. Splats outside any test, and splats whose test has no record
    /// (it never reported: add a record for it first to pin them), come back
    /// as `unattributed`, in order.
    public static func pin(
        _ splats: [Splat], on records: [TestRecord]
    ) -> (records: [TestRecord], unattributed: [Splat]) {
        var records = records
        var unattributed: [Splat] = []
        for splat in splats {
            guard let test = splat.test, let index = records.firstIndex(where: { $0.name == test })
            else {
                unattributed.append(splat)
                continue
            }
            records[index].splats.append(splat)
            if splat.kind.isCrash {
                records[index].outcome = max(records[index].outcome, .kernelCrash)
            } else if splat.kind == .outOfMemory {
                records[index].outcome = max(records[index].outcome, .outOfMemory)
            } else if records[index].outcome == .pass {
                records[index].outcome = .splat
            }
        }
        return (records, unattributed)
    }
}

import SelftestCatalog

/// Reads what one `test_progs` invocation printed into records named like
/// ours: `test_progs/<test>` with subtests `test_progs/<test>/<subtest>`.
///
/// test_progs (6.12) prints, per subtest and then per test,
/// `#61/6    cgrp_local_storage/yes_rcu_lock:FAIL` and `#61      cgrp_local_storage:FAIL`
/// (`OK`, `SKIP`, or `OK (SKIP: 1/3)` when some subtests skipped), each
/// preceded by the log it printed while it ran (its `CHECK` lines and
/// libbpf's messages, the verifier log among them). After the results it
/// repeats the failing logs under `All error logs:`, then a `Summary:` line.
/// Its `-J` JSON lists failures only, and 6.12 has no line-oriented machine
/// format, so the text is what there is to read; this is the hand-written
/// part, kept to those three line shapes.
public struct TestProgsOutput: Sendable, Equatable {
    /// One test's or subtest's result line and the log that led to it.
    public struct Result: Sendable, Equatable {
        public var number: Int
        public var test: String
        public var subtest: String?
        public var status: Status
        public var log: [String]
    }

    public enum Status: Sendable, Equatable {
        case ok
        /// `OK (SKIP: skipped/total)`: it passed with some subtests skipped.
        case okWithSkips(skipped: Int, total: Int)
        case skip
        case fail
    }

    public var results: [Result] = []
    /// Lines before the first test's log that say something about the run
    /// itself (`Can't find bpf_testmod.ko kernel module: -2`).
    public var preamble: [String] = []
    /// Log lines after the last result and before `All error logs:`: what a
    /// test printed when test_progs stopped before its result line.
    public var trailingLog: [String] = []
    /// `Summary: 6/19 PASSED, 0 SKIPPED, 3 FAILED` was seen: the stream is whole.
    public var complete = false

    public static func parse(_ lines: [String]) -> TestProgsOutput {
        var output = TestProgsOutput()
        var pending: [String] = []
        var sawResult = false
        var repeating = false
        for line in lines {
            if line.hasPrefix("Summary: ") {
                output.complete = true
                break
            }
            // Everything after it repeats the failing logs above.
            if line == "All error logs:" { repeating = true }
            if repeating { continue }
            if var result = Self.result(line) {
                result.log = pending
                pending = []
                output.results.append(result)
                sawResult = true
                continue
            }
            if !sawResult && pending.isEmpty && Self.isRunNote(line) {
                output.preamble.append(line)
                continue
            }
            pending.append(line)
        }
        output.trailingLog = pending.filter { !$0.isEmpty }
        return output
    }

    /// Lines test_progs prints about itself before any test starts.
    /// (`Can't find bpf_testmod.ko …`, `Failed to unload bpf_testmod.ko …`,
    /// `WARNING! Selftests relying on bpf_testmod.ko will be skipped.`)
    static func isRunNote(_ line: String) -> Bool {
        line.contains("bpf_testmod") || line.hasPrefix("WARNING! ")
    }

    /// `#61/6    cgrp_local_storage/yes_rcu_lock:FAIL`, `#121     htab_reuse:OK`,
    /// `#12     foo:OK (SKIP: 1/3)`; nil for any other line.
    static func result(_ line: String) -> Result? {
        guard line.hasPrefix("#") else { return nil }
        let afterHash = line.dropFirst()
        let numbers = afterHash.prefix { $0.isNumber || $0 == "/" }
        let parts = numbers.split(separator: "/")
        guard let first = parts.first, let number = Int(first), parts.count <= 2 else { return nil }
        let rest = afterHash.dropFirst(numbers.count)
        guard rest.first == " " || rest.first == "\t" else { return nil }
        var body = Substring(rest.drop { $0 == " " || $0 == "\t" })
        while body.last == " " || body.last == "\r" { body = body.dropLast() }

        var status: Status
        if body.hasSuffix(")"), let open = body.range(of: ":OK (SKIP: ", options: .backwards) {
            let counts = body[open.upperBound...].dropLast().split(separator: "/")
            guard counts.count == 2, let skipped = Int(counts[0]), let total = Int(counts[1])
            else { return nil }
            status = .okWithSkips(skipped: skipped, total: total)
            body = body[..<open.lowerBound]
        } else if let colon = body.lastIndex(of: ":") {
            switch body[body.index(after: colon)...] {
            case "OK": status = .ok
            case "SKIP": status = .skip
            case "FAIL": status = .fail
            default: return nil
            }
            body = body[..<colon]
        } else {
            return nil
        }
        let isSubtest = parts.count == 2
        let names = body.split(separator: "/", maxSplits: 1).map(String.init)
        guard let test = names.first, !test.isEmpty, isSubtest == (names.count == 2) else {
            return nil
        }
        return Result(
            number: number, test: test, subtest: isSubtest ? names[1] : nil, status: status,
            log: [])
    }
}

/// How a `test_progs` process ended, as the guest agent saw it.
public enum TestProgsEnd: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// The agent killed it when the test's bound ran out.
    case killed(afterSeconds: Int)
    /// It could not be started at all (the agent says why).
    case notStarted(String)

    /// test_progs' own exit codes (test_progs.c: `EXIT_NO_TEST`, `EXIT_ERR_SETUP_INFRA`).
    static let noTest: Int32 = 2
    static let setupError: Int32 = 3

    /// `exit 1`, `signal 11`, `killed 120`, `not-started <why>`: the agent's
    /// `tp-end:` diagnostic.
    public init?(agentLine text: String) {
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard words.count == 2 else { return nil }
        switch words[0] {
        case "exit": guard let code = Int32(words[1]) else { return nil }; self = .exited(code)
        case "signal": guard let n = Int32(words[1]) else { return nil }; self = .signaled(n)
        case "killed":
            guard let s = Int(words[1]) else { return nil }; self = .killed(afterSeconds: s)
        case "not-started": self = .notStarted(words[1])
        default: return nil
        }
    }

    public var agentLine: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal): "signal \(signal)"
        case .killed(let seconds): "killed \(seconds)"
        case .notStarted(let why): "not-started \(why)"
        }
    }
}

extension TestProgsOutput {
    /// The prefix of every test_progs record name.
    public static let suite = "test_progs"
    /// The agent's diagnostics: each line test_progs printed, then how it ended.
    public static let lineTag = ResultsComment.testProgsLine
    public static let endTag = ResultsComment.testProgsEnd
    /// Log lines kept as a record's message; the whole log stays in the run
    /// directory's KTAP.
    static let messageLines = 60

    /// The record of one planned test_progs entry (`test_progs/<test>`): its
    /// result and its subtests' from the output, or, when test_progs gave no
    /// result line for it, what its end says.
    public static func record(
        name: String, lines: [String], end: TestProgsEnd?, duration: Double?
    ) -> TestRecord {
        let test = String(name.dropFirst(suite.count + 1))
        let output = parse(lines)
        let mine = output.results.filter { $0.test == test }
        let subtests = mine.filter { $0.subtest != nil }.map { result in
            TestRecord(
                name: "\(name)/\(result.subtest!)", outcome: outcome(result.status),
                message: message(for: result)
                    ?? (result.status == .skip ? silentSkip : nil), diagnostics: [])
        }
        let runNotes = output.preamble
        if let top = mine.last(where: { $0.subtest == nil }) {
            var record = TestRecord(
                name: name, outcome: outcome(top.status), duration: duration,
                message: message(for: top), diagnostics: runNotes, subtests: subtests)
            if case .okWithSkips(let skipped, let total) = top.status {
                record.message = "\(skipped) of \(total) subtests skipped"
            }
            if record.outcome == .skip && record.message == nil {
                record.message = silentSkip
            }
            return record
        }
        // No result line for the test itself: test_progs stopped early, or
        // never ran it.
        let log = output.trailingLog
        var record = TestRecord(
            name: name, outcome: .fail, duration: duration, diagnostics: runNotes,
            subtests: subtests)
        let evidence = log.suffix(messageLines).joined(separator: "\n")
        let running = subtests.isEmpty ? "" : " after \(subtests.count) subtest(s)"
        switch end {
        case .killed(let seconds):
            record.outcome = .timeout
            record.message =
                "test_progs was still running\(running) after \(seconds) s; the agent killed it"
                + (evidence.isEmpty ? "" : "\n" + evidence)
        case .signaled(let signal):
            record.message =
                "test_progs died of signal \(signal)\(running) before its result"
                + (evidence.isEmpty ? "" : "\n" + evidence)
        case .exited(TestProgsEnd.noTest):
            record.outcome = .skip
            record.message =
                "test_progs ran no test for '\(test)' (exit 2): nothing in this tree matched"
        case .exited(TestProgsEnd.setupError):
            record.outcome = .infraError
            record.message =
                "test_progs could not set up its environment (exit 3)"
                + (evidence.isEmpty ? "" : ":\n" + evidence)
        case .exited(let code):
            record.outcome = code == 0 ? .fail : .infraError
            record.message =
                "test_progs exited \(code) without a result for '\(test)'"
                + (evidence.isEmpty ? "" : ":\n" + evidence)
        case .notStarted(let why):
            record.outcome = .infraError
            record.message = "test_progs did not start: \(why)"
        case nil:
            record.message =
                "test_progs's output ended\(running) before its result"
                + (evidence.isEmpty ? "" : "\n" + evidence)
        }
        return record
    }

    static func outcome(_ status: Status) -> Outcome {
        switch status {
        case .ok, .okWithSkips: .pass
        case .skip: .skip
        case .fail: .fail
        }
    }

    /// A failure's evidence: its failed checks (`name:FAIL:what …`) first,
    /// then the rest of its log (libbpf's errors, the verifier log) without
    /// the checks that passed; a skip's log; nil for a pass. The whole log
    /// stays in the run directory's KTAP.
    static func message(for result: Result) -> String? {
        switch result.status {
        case .ok, .okWithSkips: return nil
        case .skip, .fail:
            let log = result.log.filter { !$0.isEmpty && !$0.contains(":PASS:") }
            let failed = log.filter { $0.contains(":FAIL:") }
            let rest = log.filter { !$0.contains(":FAIL:") }
            let lines = failed + rest
            return lines.isEmpty ? nil : lines.prefix(messageLines).joined(separator: "\n")
        }
    }

    /// A skip test_progs printed no reason for (`test__skip()` says none;
    /// the test's source does: a kernel option, a CPU count, a missing
    /// module, which the run's notes name when test_progs did).
    static let silentSkip = "skipped by test_progs, which printed no reason"
}

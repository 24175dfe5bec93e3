import Glibc
import SelftestCatalog

/// The verdict of one test as the agent saw it, plus what it printed.
struct ChildResult {
    enum Outcome {
        case pass, fail, skip, timeout

        init(_ verdict: ChildMessage.Verdict) {
            switch verdict {
            case .pass: self = .pass
            case .fail: self = .fail
            case .skip: self = .skip
            }
        }
    }

    var outcome: Outcome
    var message: [String] = []
    var diagnostics: [String] = []
    var cases: [(name: String, outcome: Outcome, message: String)] = []
    var seconds: Double = 0

    /// KTAP for this test: diagnostics, nested cases, then the result line.
    func ktap(number: Int, name: String) -> String {
        var text = ""
        for line in diagnostics { text += "# \(line)\n" }
        // A skip's reason is in its SKIP directive; it is not an error.
        if outcome != .skip {
            for line in message { text += "# error: \(line)\n" }
        }
        if !cases.isEmpty {
            text += "    # Subtest: \(name)\n    KTAP version 1\n    1..\(cases.count)\n"
            for (i, c) in cases.enumerated() {
                // A case's message keeps its lines (U+001F on the child's pipe).
                let lines = c.message.split(separator: ChildMessage.lineSeparator).map(String.init)
                if c.outcome == .fail {
                    for line in lines { text += "    # error: \(line)\n" }
                }
                text += "    " + Self.line(c.outcome, i + 1, c.name, lines.first ?? "") + "\n"
            }
        }
        text += "# duration_ms: \(Int(seconds * 1000))\n"
        text += Self.line(outcome, number, name, message.first ?? "") + "\n"
        return text
    }

    static func line(_ outcome: Outcome, _ n: Int, _ name: String, _ reason: String) -> String {
        switch outcome {
        case .pass: "ok \(n) \(name)"
        case .fail: "not ok \(n) \(name)"
        case .skip: "ok \(n) \(name) # SKIP \(reason)"
        case .timeout: "not ok \(n) \(name) # TIMEOUT \(reason)"
        }
    }
}

/// Runs a test body in a forked child and waits for it with a bound. (The
/// host's `ChildProcess` spawns a program; this forks the agent itself.)
enum ForkedTest {
    static func run(test: PlannedTest, body: TestBody, progsDirectory: String)
        -> ChildResult
    {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            return ChildResult(outcome: .fail, message: ["pipe: \(errnoName(errno))"])
        }
        let start = Clock.now()
        let pid = fork()
        if pid == 0 {
            close(fds[0])
            runChild(test: test, body: body, progsDirectory: progsDirectory, out: fds[1])
        }
        close(fds[1])
        if pid < 0 {
            close(fds[0])
            return ChildResult(outcome: .fail, message: ["fork: \(errnoName(errno))"])
        }
        var result = collect(from: fds[0], pid: pid, deadline: start + Double(test.timeoutSeconds))
        close(fds[0])
        result.seconds = Clock.now() - start
        return result
    }

    private static func runChild(
        test: PlannedTest, body: TestBody, progsDirectory: String, out: Int32
    ) -> Never {
        let context = TestContext(name: test.name, out: out, progsDirectory: progsDirectory)
        do {
            try body(context)
            ChildChannel.send(fd: out, .verdict(.pass, message: ""))
        } catch TestStop.fail(let message) {
            ChildChannel.send(fd: out, .verdict(.fail, message: message))
        } catch TestStop.skip(let reason) {
            ChildChannel.send(fd: out, .verdict(.skip, message: reason))
        } catch {
            ChildChannel.send(fd: out, .verdict(.fail, message: "\(error)"))
        }
        _exit(0)
    }

    /// Reads the child's protocol lines until it closes the pipe or the
    /// deadline passes; then reaps it (killing it first on a timeout).
    private static func collect(from fd: Int32, pid: pid_t, deadline: Double) -> ChildResult {
        var buffer: [UInt8] = []
        let timedOut = FD.drain(fd, until: deadline) { buffer.append(contentsOf: $0) }
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}

        var result = parse(String(decoding: buffer, as: UTF8.self))
        if timedOut {
            result.outcome = .timeout
            result.message = ["no result after the test's bound; the agent killed it"]
        } else if result.outcome == .fail && result.message.isEmpty {
            result.message = ["the test process ended without a result (\(describe(status)))"]
        }
        return result
    }

    static func parse(_ text: String) -> ChildResult {
        var result = ChildResult(outcome: .fail)
        for line in text.split(separator: "\n") {
            switch ChildMessage(line: line) {
            case .diagnostic(let text): result.diagnostics.append(text)
            case .caseVerdict(let verdict, let name, let message):
                result.cases.append((name, ChildResult.Outcome(verdict), message))
            case .verdict(let verdict, let message):
                result.outcome = ChildResult.Outcome(verdict)
                if !message.isEmpty {
                    result.message = message.split(separator: ChildMessage.lineSeparator)
                        .map(String.init)
                }
            case nil: continue
            }
        }
        if result.outcome == .pass && result.cases.contains(where: { $0.outcome == .fail }) {
            result.outcome = .fail
            result.message = ["\(result.cases.filter { $0.outcome == .fail }.count) case(s) failed"]
        }
        return result
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal != 0 { return "killed by signal \(signal)" }
        return "exit status \((status >> 8) & 0xff)"
    }
}

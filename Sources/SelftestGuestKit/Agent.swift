import Glibc
import SelftestCatalog

/// A test body: runs in a child process; returns to pass, throws to fail or skip.
public typealias TestBody = @Sendable (TestContext) throws -> Void

/// The guest agent's main loop: take each test from the plan in the image,
/// or from the queue port when the host shares tests over several guests;
/// run it in a forked child with a bound; write KTAP to the results port
/// and a start/end marker for each test to `/dev/kmsg`.
public enum Agent {
    /// Where the plan and the compiled programs are: in the image by
    /// default; `selftests-guest PLAN PROGS` names both when the agent runs
    /// from another filesystem (virtme-ng shares the host's, for
    /// scripts/bench-vs-vng.sh).
    struct Invocation: Equatable {
        var planPath = "/selftests/plan"
        var progsDirectory = "/progs"

        init(arguments: [String]) {
            if arguments.count > 1 { planPath = arguments[1] }
            if arguments.count > 2 { progsDirectory = arguments[2] }
        }
    }

    public static func main(arguments: [String]) -> Int32 {
        let invocation = Invocation(arguments: arguments)
        let planPath = invocation.planPath
        guard let planText = FD.readFile(planPath) else {
            FD.writeAll(2, "selftests-guest: cannot read plan \(planPath)\n")
            return 2
        }
        let out = openPort(named: "selftests.results", flags: O_WRONLY) ?? 1
        let kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        signal(SIGPIPE, SIG_IGN)

        var number = 0
        func runNext(_ test: PlannedTest) {
            number += 1
            FD.writeAll(out, ResultsComment.start(test.name))
            mark(kmsg, .start, test.name)
            if test.name.hasPrefix("test_progs/") {
                let closing = TestProgsRunner.run(test, number: number, out: out)
                mark(kmsg, .end, test.name)
                FD.writeAll(out, closing)
                return
            }
            let result = run(test, progsDirectory: invocation.progsDirectory)
            mark(kmsg, .end, test.name)
            FD.writeAll(out, result.ktap(number: number, name: test.name))
        }

        if let queue = openPort(named: QueuePort.name, flags: O_RDONLY) {
            // Several guests share the tests: each takes the next as it
            // becomes free, so the count is known only at the end.
            FD.writeAll(out, "KTAP version 1\n# \(ResultsComment.queue)\n")
            var lines = LineReader(fd: queue)
            while let line = lines.next(), line != QueuePort.end,
                let test = PlannedTest(line: line[...])
            {
                runNext(test)
            }
            FD.writeAll(out, "1..\(number)\n")
        } else {
            let plan = PlannedTest.parse(plan: planText)
            FD.writeAll(out, "KTAP version 1\n1..\(plan.count)\n")
            plan.forEach(runNext)
        }
        FD.writeAll(out, ResultsComment.doneLine)
        fsync(out)
        return 0
    }

    /// The virtio-serial port called `name` (`/sys/class/virtio-ports/*/name`),
    /// opened with `flags`; nil when the guest has none (no virtio-console,
    /// or the agent runs outside the VM, where results go to stdout).
    static func openPort(named name: String, flags: Int32) -> Int32? {
        let dir = "/sys/class/virtio-ports"
        guard let handle = opendir(dir) else { return nil }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let port = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard port.hasPrefix("vport"),
                FD.readFile("\(dir)/\(port)/name")?.trimming("\n\r ", leading: false) == name[...]
            else { continue }
            let fd = open("/dev/\(port)", flags | O_CLOEXEC)
            if fd >= 0 { return fd }
        }
        return nil
    }

    /// Lines read from a port as the host writes them; nil at end of file
    /// or on an error.
    struct LineReader {
        let fd: Int32
        private var buffer: [UInt8] = []

        init(fd: Int32) { self.fd = fd }

        mutating func next() -> String? {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return nil }
                buffer += chunk[..<n]
            }
        }
    }

    /// Marker lines that let the host pin a kernel splat on the running test.
    static func mark(_ kmsg: Int32, _ kind: TestMarker.Kind, _ name: String) {
        if kmsg >= 0 { FD.writeAll(kmsg, TestMarker(kind, name).kmsgRecord) }
    }

    static func run(_ test: PlannedTest, progsDirectory: String) -> ChildResult {
        guard let body = Registry.body(for: test.name) else {
            return ChildResult(
                outcome: .fail, message: ["the guest agent has no body for this test"])
        }
        if Registry.runsInAgent.contains(test.name) {
            // Deliberately not isolated: it proves the host watchdog.
            let context = TestContext(name: test.name, out: 2, progsDirectory: progsDirectory)
            try? body(context)
            return ChildResult(outcome: .pass)
        }
        return ForkedTest.run(test: test, body: body, progsDirectory: progsDirectory)
    }
}

import Glibc
import SelftestCatalog

/// A test body: runs in a child process; returns to pass, throws to fail or skip.
public typealias TestBody = @Sendable (TestContext) throws -> Void

/// The guest agent's main loop: read the plan, run each test in a forked
/// child with a bound, write KTAP to the results port and a start/end marker
/// for each test to `/dev/kmsg`.
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
        let plan = PlannedTest.parse(plan: planText)
        let out = openResultsPort()
        let kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        signal(SIGPIPE, SIG_IGN)

        FD.writeAll(out, "KTAP version 1\n1..\(plan.count)\n")
        for (index, test) in plan.enumerated() {
            FD.writeAll(out, ResultsComment.start(test.name))
            mark(kmsg, .start, test.name)
            if test.name.hasPrefix("test_progs/") {
                let closing = TestProgsRunner.run(test, number: index + 1, out: out)
                mark(kmsg, .end, test.name)
                FD.writeAll(out, closing)
                continue
            }
            let result = run(test, progsDirectory: invocation.progsDirectory)
            mark(kmsg, .end, test.name)
            FD.writeAll(out, result.ktap(number: index + 1, name: test.name))
        }
        FD.writeAll(out, ResultsComment.doneLine)
        fsync(out)
        return 0
    }

    /// The virtio-serial port named `selftests.results`, or stdout when the
    /// agent runs outside the VM (for debugging it by hand).
    static func openResultsPort() -> Int32 {
        let dir = "/sys/class/virtio-ports"
        guard let handle = opendir(dir) else { return 1 }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let port = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard port.hasPrefix("vport"),
                FD.readFile("\(dir)/\(port)/name")?.trimming("\n\r ", leading: false)
                    == "selftests.results"
            else { continue }
            let fd = open("/dev/\(port)", O_WRONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
        }
        return 1
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

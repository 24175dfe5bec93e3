import Foundation
import SelftestCatalog
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// `--jobs`: the queue the guests share, and the sessions that take from it.
@Suite(.tags(.unit)) struct TestQueueTests {
    static let suite = TestFilter(nil).select(from: Catalog.all)

    static func specs(_ names: [String]) throws -> [TestSpec] {
        try names.map { name in try #require(Catalog.all.first { $0.name == name }, "\(name)") }
    }

    static func captures() throws -> [String] {
        try (1...2).map { try ParserFixture.text("ktap/agent-queue-guest-\($0).ktap") }
    }

    /// A session in a scratch directory on a fake clock, booting through `spawner`.
    static func session(_ spawner: any ProcessSpawning, in directory: URL) throws -> GuestSession {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let base = directory.appendingPathComponent("base.cpio")
        var empty = CPIOWriter()
        try empty.finish().write(to: base)
        let clock = FakeClock()
        return GuestSession(
            toolchain: Toolchain(
                qemu: "qemu-system-x86_64", clang: "clang", clangVersion: "",
                bpftool: "bpftool", busybox: "busybox", libbpfIncludeDirectory: ""),
            kernel: try GuestSessionTests.Bench.kernel(in: directory),
            image: GuestImage(base: base, cached: true), accelerator: .tcg,
            runDirectory: directory, runDeadline: clock.now().addingTimeInterval(1800),
            runTimeout: 1800,
            host: HostContext(runner: NoCommands(), spawner: spawner, clock: clock))
    }

    static func scratch() -> URL {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("selftests-queue-\(UUID().uuidString)")
    }

    @Test func recordedTimesOutrankTheEstimatesAndTiesKeepTheirOrder() {
        let tests = (1...5).map { TestSpec("t/\($0)", "t") }
        let recorded = ["t/4": 10.0, "t/2": 2, "t/5": .nan, "t/3": -1]
        let order = TestQueue.longestFirst(tests, recorded: recorded).map(\.name)
        // t/5's NaN and t/3's negative time fall back to the estimate, as t/1's.
        #expect(order == ["t/4", "t/2", "t/1", "t/3", "t/5"])
        let byEstimate = TestQueue.longestFirst(Self.suite, recorded: [:])
        #expect(
            zip(byEstimate, byEstimate.dropFirst()).allSatisfy {
                $0.expectedSeconds >= $1.expectedSeconds
            })
    }

    /// Four takers at once: every test is handed once, none twice.
    @Test func concurrentGuestsTakeEachTestExactlyOnce() {
        let queue = TestQueue(Self.suite, guests: 4)
        let taken = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            while let test = queue.next() { taken.withLock { $0.append(test.name) } }
        }
        let names = taken.withLock { $0 }
        #expect(names.count == Self.suite.count)
        #expect(Set(names) == Set(Self.suite.map(\.name)))
        #expect(queue.next() == nil)
    }

    /// A busy guest gets a test ahead only while every other guest can
    /// still get one: two tests on two guests, one each, even when the
    /// first of them hangs its guest.
    @Test func noTestIsHandedAheadThatAnotherGuestMayNeed() throws {
        let queue = TestQueue(
            try Self.specs(["hash/update_flags", "hash/get_next_key"]), guests: 2)
        #expect(queue.next() != nil)
        #expect(queue.next(ahead: true) == nil, "the other guest's test")
        #expect(queue.next() != nil, "the other guest takes it")
        let three = TestQueue((1...3).map { TestSpec("t/\($0)", "t") }, guests: 2)
        _ = three.next()
        #expect(three.next(ahead: true)?.name == "t/2", "one is still left for the other")
        #expect(three.next(ahead: true) == nil)
        #expect(three.leave().isEmpty)
        #expect(three.next(ahead: true)?.name == "t/3", "alone, a guest takes ahead again")
    }

    @Test func aTestPutBackIsNextAndTheLastGuestToLeaveGetsTheRest() throws {
        let tests = (1...4).map { TestSpec("t/\($0)", "t") }
        let queue = TestQueue(tests, guests: 2)
        let first = try #require(queue.next())
        _ = queue.next()
        queue.putBack([first])
        #expect(queue.next()?.name == first.name, "a test a crash left goes first")
        queue.remove(["t/3"])
        #expect(queue.leave().isEmpty, "another guest is still taking tests")
        #expect(queue.leave().map(\.name) == ["t/4"], "the last guest gets what is left")
        #expect(queue.isEmpty)
    }

    /// The real queue-mode run: the agent announces the queue, its plan line
    /// comes after its last test, and the two guests ran the suite once.
    @Test func theCapturedQueueRunsHoldTheSuiteOnceWithThePlanLast() throws {
        var names: [String] = []
        for capture in try Self.captures() {
            let document = KTAPParser.parse(capture)
            #expect(document.hasVersionLine && document.done)
            #expect(document.plan == document.results.count)
            #expect(document.results.map(\.number) == Array(1...document.results.count))
            #expect(document.results.allSatisfy { $0.ok })
            #expect(capture.hasPrefix("KTAP version 1\n# \(ResultsComment.queue)\n"))
            names += document.results.map(\.name)
        }
        #expect(names.sorted() == Self.suite.map(\.name).sorted())
    }

    /// Real runs' times replayed: two guests taking from the queue end
    /// within the shortest test of each other, with the times of the queue
    /// run and with those of the run split into fixed shares by the
    /// estimates, whose guests ended 3.2 s apart.
    @Test(arguments: ["agent-queue-guest", "agent-default-suite-guest"])
    func theCapturedTimesTakenFromTheQueueEndTogether(capture: String) throws {
        var seconds: [String: Double] = [:]
        for guest in 1...2 {
            let capture = try ParserFixture.text("ktap/\(capture)-\(guest).ktap")
            for record in RecordBuilder.records(from: KTAPParser.parse(capture)) {
                seconds[record.name] = record.duration
            }
        }
        let queue = TestQueue(Self.suite, guests: 2, recorded: seconds)
        var ends = [0.0, 0.0]
        while let test = queue.next() {
            let free = ends[0] <= ends[1] ? 0 : 1
            ends[free] += seconds[test.name] ?? 0
        }
        #expect(abs(ends[0] - ends[1]) <= seconds.values.min()! + 0.05)
    }

    /// Two guests on one queue through the pool: each test handed once,
    /// each guest handed some, in the queue's order, and the verdicts the
    /// captured guests gave.
    @Test func twoGuestsShareTheQueueAndGiveTheCapturedVerdicts() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let qemu = FakeQueueQemu(
            captures: try Self.captures(),
            bootConsole: try ParserFixture.text("console/boot-clean-6.12.log"))
        let pool = GuestPool(session: try Self.session(qemu, in: directory), jobs: 2)
        let notes = Mutex<[String]>([])
        let live = Mutex<[String]>([])
        let outcome = try pool.run(
            Self.suite, note: { text in notes.withLock { $0.append(text) } },
            progress: { record in live.withLock { $0.append(record.name) } })

        #expect(outcome.records.map(\.name) == Self.suite.map(\.name), "the catalog's order")
        #expect(outcome.records.allSatisfy { $0.outcome == .pass })
        #expect(outcome.boots == 2)
        let handed = qemu.handed.withLock { $0 }
        #expect(handed.count == 2 && handed.allSatisfy { !$0.isEmpty })
        #expect(handed.flatMap { $0 }.sorted() == Self.suite.map(\.name).sorted())
        let order = TestQueue.longestFirst(Self.suite, recorded: [:]).map(\.name)
        for guest in handed {
            let positions = guest.compactMap { order.firstIndex(of: $0) }
            #expect(positions == positions.sorted(), "each guest takes the queue's head")
        }
        #expect(live.withLock { $0 }.sorted() == Self.suite.map(\.name).sorted())
        #expect(
            notes.withLock { $0 }.contains { $0.contains("each taking the next as it frees up") })
        for guest in ["guest-1", "guest-2"] {
            let boot = directory.appendingPathComponent("\(guest)/boot-1")
            #expect(!FileManager.default.fileExists(atPath: boot.path + "/queue.in"))
        }
    }

    /// A test that kills the kernel: its verdict is the crash, the test the
    /// guest had been handed next goes back to the queue, and the guest
    /// re-boots for it and the rest.
    @Test func aGuestWhoseKernelDiesReBootsForTheTestsStillQueued() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let crashLog = try ParserFixture.text("console/agent-devkmsg-on-6.12.log")
        let crashFrom = try #require(
            crashLog.range(of: "[    9.029851] selftests: start fixture/crash"))
        let qemu = FakeQueueQemu(
            captures: try Self.captures(),
            bootConsole: try ParserFixture.text("console/boot-clean-6.12.log"),
            crashes: ["fixture/crash"], crashConsole: String(crashLog[crashFrom.lowerBound...]))
        let session = try Self.session(qemu, in: directory)
        let tests =
            try Self.specs([
                "hash/update_flags", "storage/sk/user_update_flags", "hash/get_next_key",
            ]) + Self.specs(["fixture/crash"])
        let queue = TestQueue(tests, guests: 1, recorded: ["fixture/crash": 100])
        let outcome = try session.run(queue: queue) { _ in }

        #expect(outcome.boots == 2)
        let handed = qemu.handed.withLock { $0 }
        #expect(handed[0] == ["fixture/crash"], "the crash ended the boot before its next test")
        #expect(Set(handed[1]) == Set(tests.dropLast().map(\.name)))
        let crash = try #require(outcome.records.first { $0.name == "fixture/crash" })
        #expect(crash.outcome == .kernelCrash)
        #expect(crash.splats.contains { $0.kind.isCrash }, "the panic pinned on it")
        #expect(
            outcome.records.filter { $0.name != "fixture/crash" }.allSatisfy { $0.outcome == .pass }
        )
        #expect(outcome.records.count == tests.count)
    }

    /// A guest that cannot boot, twice: as the last guest, it judges every
    /// test still queued by its boot.
    @Test func theLastGuestThatCannotBootJudgesTheTestsLeft() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let console = try ParserFixture.text("console/boot-clean-6.12.log")
        let qemu = FakeQemu([
            FakeQemu.Boot(ktap: "", console: console), FakeQemu.Boot(ktap: "", console: console),
        ])
        let session = try Self.session(qemu, in: directory)
        let tests = try Self.specs(["hash/update_flags", "hash/get_next_key"])
        let queue = TestQueue(tests, guests: 1)
        let outcome = try session.run(queue: queue) { _ in }
        #expect(outcome.boots == 2, "retried once")
        #expect(outcome.records.map(\.outcome) == [.infraError, .infraError])
        #expect(outcome.records.allSatisfy { $0.message?.contains("did not start") == true })
        #expect(queue.isEmpty)
    }

    /// A kernel without virtio-console has no queue port: the agent writes
    /// KTAP to the console and takes no test; the last guest to leave runs
    /// what is left with the plan in its image.
    @Test func aGuestWithoutAQueuePortLeavesTheTestsToThePlan() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ktap = try ParserFixture.text("ktap/agent-fixtures-done.ktap")
        let names = KTAPParser.parse(ktap).startedTests
        let noPort =
            try ParserFixture.text("console/boot-clean-6.12.log")
            + "KTAP version 1\n1..0\n# selftests: done\n"
        let qemu = FakeQemu([
            FakeQemu.Boot(ktap: "", console: noPort),
            FakeQemu.Boot(
                ktap: ktap,
                console: try ParserFixture.text("console/agent-devkmsg-ratelimited-6.12.log")),
        ])
        let session = try Self.session(qemu, in: directory)
        var notes: [String] = []
        let outcome = try session.run(
            queue: TestQueue(try Self.specs(names), guests: 1), note: { notes.append($0) }
        ) { _ in }
        #expect(outcome.boots == 2)
        #expect(Set(outcome.records.map(\.name)) == Set(names))
        #expect(notes.contains { $0.contains("no queue port") })
        #expect(notes.contains { $0.contains("running them with the plan in the image") })
        let second = try #require(qemu.started.withLock { $0 }.last)
        #expect(!second.command.arguments.contains { $0.hasPrefix("pipe,id=queue") })
    }
}

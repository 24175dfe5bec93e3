import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// One boot's output read as QEMU writes it: in pieces, each byte once. The
/// pieces must add up to what the whole captured output says, live records
/// must be the final ones, and the running test must be the one cut off.
@Suite(.tags(.unit)) struct BootTrackerTests {
    /// Real captured pairs: the KTAP port and the console of one boot.
    static let pairs: [(ktap: String, console: String)] = [
        ("agent-fixtures-done.ktap", "agent-devkmsg-ratelimited-6.12.log"),
        ("agent-crash-truncated.ktap", "agent-devkmsg-on-6.12.log"),
        ("agent-oom-killed.ktap", "oom-killed-agent-6.12.log"),
    ]

    /// Files that grow as a running QEMU's do, in pieces cut anywhere, even
    /// inside a line or a UTF-8 sequence.
    struct GrowingFiles {
        let directory: URL
        var results: URL { directory.appendingPathComponent("results.ktap") }
        var console: URL { directory.appendingPathComponent("console.log") }

        init() throws {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-tracker-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true)
            try Data().write(to: results)
        }

        func append(_ data: Data, to file: URL) throws {
            if !FileManager.default.fileExists(atPath: file.path) {
                try Data().write(to: file)
            }
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// Writes `ktap` and `console` in pieces of 1…`largest` bytes, polling
    /// after each; `observe` sees every poll. In `guestOrder`, each result
    /// line comes after the console's end marker of its test, as the agent
    /// writes them; otherwise the two files are interleaved at random.
    static func follow(
        ktap: String, console: String, seed: UInt64, largest: Int = 700,
        guestOrder: Bool = false, observe: (inout BootTracker) -> Void = { _ in }
    ) throws -> BootTracker {
        let files = try GrowingFiles()
        defer { files.remove() }
        var tracker = BootTracker(resultsFile: files.results, consoleLog: files.console)
        var random = SeededRandom(seed: seed)
        func write(_ data: Data, _ file: URL, _ tracker: inout BootTracker) throws {
            var left = data[...]
            while !left.isEmpty {
                let size = 1 + Int(random.next() % UInt64(largest))
                try files.append(Data(left.prefix(size)), to: file)
                left = left.dropFirst(size)
                tracker.poll()
                observe(&tracker)
            }
        }
        if guestOrder {
            var consoleLeft = Data(console.utf8)[...]
            for line in ktap.split(separator: "\n", omittingEmptySubsequences: false) {
                let result = KTAPParser.parseResult(TextLines.trimmed(line))?.result
                if line.first != " ", let name = result?.name,
                    let marker = consoleLeft.firstRange(of: Data("selftests: end \(name)\r\n".utf8))
                {
                    try write(Data(consoleLeft[..<marker.upperBound]), files.console, &tracker)
                    consoleLeft = consoleLeft[marker.upperBound...]
                }
                try write(Data((line + "\n").utf8), files.results, &tracker)
            }
            try write(Data(consoleLeft), files.console, &tracker)
        } else {
            var rest = [(Data(ktap.utf8), files.results), (Data(console.utf8), files.console)]
            while !rest.isEmpty {
                let pick = Int(random.next() % UInt64(rest.count))
                let size = 1 + Int(random.next() % UInt64(largest))
                let (data, file) = rest[pick]
                try files.append(data.prefix(size), to: file)
                let left = data.dropFirst(size)
                if left.isEmpty { rest.remove(at: pick) } else { rest[pick] = (Data(left), file) }
                tracker.poll()
                observe(&tracker)
            }
        }
        tracker.finish()
        return tracker
    }

    @Test(arguments: pairs.indices, [UInt64(1), 7, 42])
    func piecesAddUpToTheWholeOutput(pair: Int, seed: UInt64) throws {
        let ktap = try ParserFixture.text("ktap/\(Self.pairs[pair].ktap)")
        let console = try ParserFixture.text("console/\(Self.pairs[pair].console)")
        let tracker = try Self.follow(ktap: ktap, console: console, seed: seed)
        #expect(tracker.finishedDocument == KTAPParser.parse(ktap))
        #expect(tracker.consoleLog == ConsoleLog.parse(console))
        let whole = BootTracker(ktap: ktap, console: console)
        #expect(tracker.consoleTail == whole.consoleTail)
        #expect(tracker.consoleTail.count == BootTracker.tailLines)
        #expect(tracker.consoleTail.allSatisfy { !$0.isEmpty && !$0.hasSuffix("\r") })
    }

    /// Each result is shown once, as it arrives, with the splats pinned on
    /// it, and equal to the final verdict of that test.
    @Test(arguments: pairs.indices)
    func liveRecordsAreTheFinalOnesShownOnce(pair: Int) throws {
        let ktap = try ParserFixture.text("ktap/\(Self.pairs[pair].ktap)")
        let console = try ParserFixture.text("console/\(Self.pairs[pair].console)")
        var live: [TestRecord] = []
        var tracker = try Self.follow(ktap: ktap, console: console, seed: 3, guestOrder: true) {
            live += $0.newRecords()
        }
        live += tracker.newRecords()
        let document = KTAPParser.parse(ktap)
        let final = RecordBuilder.pin(
            ConsoleLog.parse(console).splats, on: RecordBuilder.records(from: document)
        ).records
        #expect(live == final)
        #expect(tracker.shown == Set(final.map(\.name)))
        #expect(tracker.newRecords().isEmpty)
    }

    /// The watchdog's view: a test is running from its start line to its
    /// result; after a crash or an OOM kill, the one cut off stays running.
    @Test func theRunningTestIsTheOneStartedWithoutAResult() throws {
        var seen: [String?] = []
        let ktap = try ParserFixture.text("ktap/agent-crash-truncated.ktap")
        let tracker = try Self.follow(
            ktap: ktap, console: try ParserFixture.text("console/agent-devkmsg-on-6.12.log"),
            seed: 5, guestOrder: true
        ) { tracker in
            if seen.last != tracker.running { seen.append(tracker.running) }
        }
        #expect(tracker.running == "fixture/crash")
        let started = KTAPParser.parse(ktap).startedTests
        #expect(seen.compactMap { $0 } == started, "each test ran, in order, and only once")

        let oom = BootTracker(
            ktap: try ParserFixture.text("ktap/agent-oom-killed.ktap"),
            console: try ParserFixture.text("console/oom-killed-agent-6.12.log"))
        #expect(oom.running == "memory/large/storage")
        let done = BootTracker(
            ktap: try ParserFixture.text("ktap/agent-fixtures-done.ktap"),
            console: try ParserFixture.text("console/agent-devkmsg-ratelimited-6.12.log"))
        #expect(done.running == nil)
        #expect(done.document.done)
    }
}

/// A reproducible sequence (SplitMix64), so a failing cut can be replayed.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

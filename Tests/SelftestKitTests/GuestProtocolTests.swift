import Foundation
import SelftestCatalog
import SelftestKit
import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

/// Each word of the host–guest protocol, written as the guest writes it and
/// read as the host reads it (or the other way round for the plan).
@Suite(.tags(.unit)) struct GuestProtocolTests {
    /// The captured line of a real memory run (`Fixtures/memory`): the
    /// shared record writes it byte for byte as the guest's own JSON did.
    static let capturedMeasureLine =
        #"measure: {"case":"ringbuf_prealloc_0_0_65536","type":"RINGBUF","prealloc":true,"#
        + #""key":0,"value":0,"entries":65536,"elements":0,"cpus":2,"created":90112,"#
        + #""measured":77824,"reported":78360,"naive":65536,"kernel":77824,"slab":1184,"#
        + #""percpu":0,"vmalloc":0,"own_pages":4096,"meminfo_kernel":0,"meminfo_percpu":0,"#
        + #""residue":0,"free_ms":30,"fill_ms":0,"freed":"map"}"#

    @Test func aMeasurementIsWrittenAsTheGuestWroteItAndReadBackWhole() throws {
        var m = MapMeasurement(
            label: "ringbuf_prealloc_0_0_65536", type: "RINGBUF", prealloc: true, keySize: 0,
            valueSize: 0, entries: 65536, elements: 0, cpus: 2)
        m.naive = 65536
        m.created = 90112
        m.measured = 77824
        m.reported = 78360
        m.kernel = 77824
        m.slab = 1184
        m.ownPages = 4096
        m.freeMs = 30
        #expect(m.line == Self.capturedMeasureLine)
        #expect(MemoryMeasurement.parse(line: m.line)?.record == m)

        m.freed = "owners"
        m.ownerResidue = 4096
        m.label = #"odd "label"\with\#nnewline"#
        let read = try #require(MemoryMeasurement.parse(line: m.line))
        #expect(read.record == m)
        #expect(read.test == nil && read.outcome == nil, "the host adds those")
        #expect(!m.line.dropFirst().contains("\n"), "one record is one line")
    }

    @Test func aPlanIsReadBackAsItWasWritten() throws {
        var entry = TestSpec("test_progs/hashmap", "upstream", timeoutSeconds: 300)
        entry.arguments = ["-a", "hashmap/generic", "-d", "@/test_progs/deny"]
        let specs = [
            TestSpec("storage/sk/a", "a"), TestSpec("fixture/hang", "h", timeoutSeconds: 3),
        ]
        let plan = PlannedTest.plan(specs + [entry])
        #expect(PlannedTest.parse(plan: plan) == (specs + [entry]).map(PlannedTest.init))
        #expect(
            String(decoding: GuestImage.planArchive(specs + [entry]), as: UTF8.self)
                .contains(plan))
        #expect(
            PlannedTest.parse(plan: "storage/sk/a\nstorage/sk/b\tsoon\n\n").map(\.timeoutSeconds)
                == [TestSpec.defaultTimeoutSeconds, TestSpec.defaultTimeoutSeconds])
    }

    /// The agent's markers, as the kernel prints them on the console (level
    /// consumed, timestamp added), are the markers the host finds.
    @Test func kmsgMarkersArePinnedOnTheirTest() throws {
        let records = [TestMarker(.start, "storage/sk/a"), TestMarker(.end, "storage/sk/a")]
            .map(\.kmsgRecord)
        #expect(records.allSatisfy { $0.hasPrefix("<5>") && $0.hasSuffix("\n") })
        let console = records.enumerated().map { index, record in
            "[    2.29861\(index)] " + record.dropFirst(3)
        }.joined()
        let markers = ConsoleLog.parse(console).markers
        #expect(markers.map(\.kind) == [.start, .end])
        #expect(markers.map(\.test) == ["storage/sk/a", "storage/sk/a"])
        #expect(TestMarker(consoleText: "selftests: start ") == nil, "a marker names its test")
    }

    /// The stream the agent writes on the results port: start comments, the
    /// tests' KTAP, the done comment.
    @Test func startAndDoneCommentsAreReadFromTheStream() throws {
        let pass = ForkedTest.parse(ChildMessage.verdict(.pass, message: "").line)
        let stream =
            "KTAP version 1\n1..2\n" + ResultsComment.start("storage/sk/a")
            + pass.ktap(number: 1, name: "storage/sk/a") + ResultsComment.start("fixture/crash")
        let cut = KTAPParser.parse(stream)
        #expect(cut.startedTests == ["storage/sk/a", "fixture/crash"])
        #expect(cut.unfinishedTests == ["fixture/crash"])
        #expect(!cut.done)
        #expect(KTAPParser.parse(stream + ResultsComment.doneLine).done)
    }

    /// Every message a test's child sends is the message the agent reads,
    /// newlines included.
    @Test(arguments: [
        ChildMessage.diagnostic("optmem: baseline 0, 400 with one element"),
        .caseVerdict(.pass, name: "HASH", message: ""),
        .caseVerdict(.skip, name: "LRU_HASH", message: "needs BTF"),
        .caseVerdict(.fail, name: "PERCPU_HASH", message: "verifier said:\nR1 invalid"),
        .verdict(.pass, message: ""),
        .verdict(.fail, message: "expected 0, got -22\nline two"),
        .verdict(.skip, message: "BPF LSM is not enabled"),
    ])
    func childMessagesRoundTrip(message: ChildMessage) throws {
        let line = message.line
        #expect(line.last == "\n" && line.dropLast().allSatisfy { $0 != "\n" })
        let read = try #require(ChildMessage(line: line.dropLast()[...]))
        let unfolded: ChildMessage =
            switch read {
            case .diagnostic(let text): .diagnostic(text)
            case .caseVerdict(let verdict, let name, let text):
                .caseVerdict(verdict, name: name, message: unfold(text))
            case .verdict(let verdict, let text): .verdict(verdict, message: unfold(text))
            }
        #expect(unfolded == message)
    }

    func unfold(_ text: String) -> String {
        text.split(separator: ChildMessage.lineSeparator, omittingEmptySubsequences: false)
            .joined(separator: "\n")
    }
}

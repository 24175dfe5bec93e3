import SelftestKit
import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

/// What the guest agent writes, the host must read back unchanged.
@Suite(.tags(.unit)) struct GuestKTAPRoundTripTests {
    @Test func multiLineMessagesKeepTheirLinesForTestsAndCases() throws {
        let child = ForkedTest.parse(
            """
            diag optmem: baseline 0
            case pass HASH
            case fail LRU_HASH verifier said:\u{1F}R1 invalid mem access\u{1F}processed 12 insns
            result pass

            """)
        #expect(child.outcome == .fail, "a failed case fails the test")
        let ktap = "KTAP version 1\n1..1\n" + child.ktap(number: 1, name: "hash/update_flags")
        let records = RecordBuilder.records(from: KTAPParser.parse(ktap))
        let record = try #require(records.first)
        #expect(record.outcome == .fail)
        #expect(record.diagnostics.contains("optmem: baseline 0"))
        #expect(
            record.subtests.map(\.name) == ["hash/update_flags/HASH", "hash/update_flags/LRU_HASH"])
        let failed = try #require(record.subtests.last)
        #expect(failed.outcome == .fail)
        #expect(
            failed.message == "verifier said:\nR1 invalid mem access\nprocessed 12 insns",
            "got \(failed.message ?? "nil")")
    }

    @Test func skipReasonsAndTimeoutsSurvive() throws {
        var skip = ForkedTest.parse("result skip BPF LSM is not enabled (lsm= lacks bpf)\n")
        skip.seconds = 0.25
        let timeout = ChildResult(outcome: .timeout, message: ["no result after the bound"])
        let ktap =
            "KTAP version 1\n1..2\n" + skip.ktap(number: 1, name: "storage/inode/a")
            + timeout.ktap(number: 2, name: "fixture/hang")
        let records = RecordBuilder.records(from: KTAPParser.parse(ktap))
        #expect(records.map(\.outcome) == [.skip, .timeout])
        #expect(records.first?.message == "BPF LSM is not enabled (lsm= lacks bpf)")
        #expect(records.first?.duration == 0.25)
    }
}

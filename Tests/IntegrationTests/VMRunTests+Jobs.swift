import Foundation
import Testing

@testable import SelftestKit

extension VirtualMachineSuites.VMRunTests {
    /// `--jobs 2` gives exactly the verdicts and splat pinning one guest
    /// gives, each guest with both vCPUs, and a guest the watchdog stops
    /// re-boots alone. `fixture/hang_guest` is there for that: `crash` is
    /// last in the catalog, so no test of its guest is left to re-boot for.
    @Test func twoGuestsGiveTheVerdictsOneGuestGives() throws {
        let filter =
            "fixture/pass,fixture/crash,fixture/warn,fixture/hang,fixture/hang_guest,"
            + "storage/sk/user_update_flags"
        let (one, _) = try run(filter, grace: 5, jobs: 1)
        let (two, recorder) = try run(filter, grace: 5, jobs: 2)

        // What a verdict is made of: outcome, message, each splat's kind and
        // the test it is pinned on (their text holds PIDs and addresses).
        func verdicts(_ report: RunReport) -> [String] {
            report.records.map { record in
                let splats = record.splats.map { "\($0.kind)@\($0.test ?? "-")" }
                return "\(record.name) \(record.outcome) \(record.message ?? "") \(splats)"
            }
        }
        #expect(verdicts(two) == verdicts(one))
        #expect(two.unattributedSplats.count == one.unattributedSplats.count)
        #expect(try record(two, "fixture/crash").outcome == .kernelCrash)
        #expect(try record(two, "fixture/warn").splats.first?.test == "fixture/warn")
        #expect(two.records.map(\.name) == one.records.map(\.name), "the catalog's order")
        #expect(Set(recorder.live.map(\.name)) == Set(two.records.map(\.name)))
        #expect(recorder.live.count == two.records.count, "one live line per test")
        #expect(recorder.notes.contains { $0.contains("on 2 guests at once") })

        // Each guest has its own boots; only the hung one's re-booted.
        let artifacts = URL(fileURLWithPath: try #require(two.artifactsDirectory))
        let boots = try ["guest-1", "guest-2"].map { guest in
            try FileManager.default.contentsOfDirectory(
                atPath: artifacts.appendingPathComponent(guest).path
            ).filter { $0.hasPrefix("boot-") }.sorted()
        }
        #expect(boots.sorted { $0.count < $1.count } == [["boot-1"], ["boot-1", "boot-2"]])
        for guest in ["guest-1", "guest-2"] {
            let console = try String(
                contentsOf: artifacts.appendingPathComponent("\(guest)/boot-1/console.log"),
                encoding: .utf8)
            #expect(console.contains("Brought up 1 node, 2 CPUs"), "\(guest) has both vCPUs")
        }
    }
}

import Foundation
import Testing

@testable import SelftestKit

extension VirtualMachineSuites.VMRunTests {
    /// `--jobs 2` gives exactly the verdicts and splat pinning one guest
    /// gives, each guest with both vCPUs taking tests from the shared
    /// queue, and only a guest whose kernel died or hung re-boots.
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

        // Each guest has its own boots, and re-boots only after its own
        // kernel died (fixture/crash) or hung (fixture/hang_guest): a boot
        // after the first follows one whose agent never said done.
        let artifacts = URL(fileURLWithPath: try #require(two.artifactsDirectory))
        var boots = 0
        for guest in ["guest-1", "guest-2"] {
            let dir = artifacts.appendingPathComponent(guest)
            let count = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                .filter { $0.hasPrefix("boot-") }.count
            boots += count
            for boot in Swift.stride(from: 2, through: count, by: 1) {
                let before = try String(
                    contentsOf: dir.appendingPathComponent("boot-\(boot - 1)/results.ktap"),
                    encoding: .utf8)
                #expect(!before.contains("# selftests: done"), "\(guest) boot-\(boot)")
            }
        }
        #expect(boots >= 2 && boots <= 4, "two guests, and a re-boot at most per dead kernel")
        for guest in ["guest-1", "guest-2"] {
            let console = try String(
                contentsOf: artifacts.appendingPathComponent("\(guest)/boot-1/console.log"),
                encoding: .utf8)
            #expect(console.contains("Brought up 1 node, 2 CPUs"), "\(guest) has both vCPUs")
        }
    }
}

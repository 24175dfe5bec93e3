import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

@Suite(.tags(.unit)) struct StorageRaceBoundsTests {
    /// The race test's memory bound allows every CPU's charge stock, and it
    /// still fails a run that leaks every element: its fewest rounds charge
    /// (36 elements a round, each value in an 8 KiB slab) more than twice
    /// the bound, on any machine QEMU can give the guest.
    @Test(arguments: [1, 2, 4, 8, 64, 255])
    func boundCoversTheStockAndStillCatchesALeak(cpus: Int) {
        let tolerance = StorageRaceTests.toleranceBytes(cpus: cpus)
        #expect(tolerance >= cpus * 65 * 4096, "a full stock on every CPU fits")
        let leaked = StorageRaceTests.minRounds(cpus: cpus) * 36 * 8192
        #expect(leaked > 2 * tolerance)
    }
}

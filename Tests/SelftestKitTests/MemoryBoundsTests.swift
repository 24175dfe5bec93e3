import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

/// The reported/measured bounds: slack for stray pages on small maps, none
/// where a small difference would itself be the regression.
@Suite(.tags(.unit)) struct MemoryBoundsTests {
    func measurement(
        _ type: String, reported: Int, measured: Int, valueSize: Int = 0, entries: Int = 65_536,
        cpus: Int = 2
    ) -> MapMeasurement {
        var m = MapMeasurement(
            label: "t", type: type, prealloc: true, keySize: 4, valueSize: valueSize,
            entries: entries, elements: 0, cpus: cpus)
        m.reported = reported
        m.measured = measured
        return m
    }

    @Test func aSmallRingBufferToleratesAFewStrayPages() {
        // Seen on the bpf-minimal build: three pages of other charge.
        let m = measurement("RINGBUF", reported: 78_360, measured: 90_112)
        #expect(RatioBound.of(m).contains(m))
        let far = measurement("RINGBUF", reported: 78_360, measured: 200_000)
        #expect(!RatioBound.of(far).contains(far), "a doubled cost is still caught")
    }

    @Test func aSmallArrayToleratesStrayPagesButNotALargeGap() {
        let stray = measurement("ARRAY", reported: 8_456, measured: 28_672)
        #expect(RatioBound.of(stray).contains(stray))
        let large = measurement("ARRAY", reported: 524_552, measured: 1_200_000)
        #expect(!RatioBound.of(large).contains(large))
    }

    @Test func aSmallHashToleratesStrayPagesButNotALargeGap() {
        // Seen once on the bpf-minimal build in a full-suite run.
        let stray = measurement("HASH", reported: 83_024, measured: 98_304, entries: 1024)
        #expect(RatioBound.of(stray).contains(stray))
        // 64K elements charged 16 bytes more each: far past any slack.
        let large = measurement("HASH", reported: 5_243_984, measured: 6_295_552)
        #expect(!RatioBound.of(large).contains(large))
    }

    @Test func localStorageGetsNoSlack() {
        // memlock 464 against a cgroup charge of 500 would mean the elements
        // stopped being charged: it must fail although the bytes are close.
        let m = measurement("SK_STORAGE", reported: 464, measured: 500)
        #expect(!RatioBound.of(m).contains(m))
        let real = measurement("SK_STORAGE", reported: 464, measured: 102_400)
        #expect(RatioBound.of(real).contains(real))
    }

    /// memlock counts a per-CPU map's values once per possible CPU; the
    /// cgroup is charged for none of them. The bound takes them out, so it
    /// holds on any number of CPUs, and still fails when they start being
    /// charged (or stop being reported).
    @Test func perCPUBoundsHoldForAnyNumberOfCPUs() {
        // Measured on 6.12: PERCPU_ARRAY 8 × 1K on 1 CPU (the bpf-minimal
        // kernel, 1 possible CPU) and on 2; ×64K on 2.
        let one = measurement(
            "PERCPU_ARRAY", reported: 16_648, measured: 16_384, valueSize: 8, entries: 1024,
            cpus: 1)
        #expect(RatioBound.of(one).contains(one))
        #expect(RatioBound.of(one).unchargedBytes == 8192)
        let two = measurement(
            "PERCPU_ARRAY", reported: 24_840, measured: 16_384, valueSize: 8, entries: 1024)
        #expect(RatioBound.of(two).contains(two))
        // 64K on 8 CPUs, by the same model: 524552 + 8 × 524288.
        let eight = measurement(
            "PERCPU_ARRAY", reported: 4_718_856, measured: 528_384, valueSize: 8, cpus: 8)
        #expect(RatioBound.of(eight).contains(eight))
        // The values charged to the cgroup after all: 1 MiB more measured.
        let charged = measurement(
            "PERCPU_ARRAY", reported: 1_573_128, measured: 1_576_960, valueSize: 8)
        #expect(!RatioBound.of(charged).contains(charged))
        // PERCPU_HASH 4/8 × 64K on 2 CPUs, as measured; and with the values
        // left out of memlock (reported as for HASH), caught.
        let hash = measurement(
            "PERCPU_HASH", reported: 6_292_416, measured: 5_242_880, valueSize: 8)
        #expect(RatioBound.of(hash).contains(hash))
        let unreported = measurement(
            "PERCPU_HASH", reported: 5_243_840, measured: 5_242_880, valueSize: 8)
        #expect(!RatioBound.of(unreported).contains(unreported))
    }
}

import Testing

@testable import SelftestGuestKit

/// The reported/measured bounds: slack for stray pages on small maps, none
/// where a small difference would itself be the regression.
@Suite struct MemoryBoundsTests {
    func measurement(_ type: String, reported: Int, measured: Int) -> Measurement {
        var m = Measurement(
            label: "t", type: type, prealloc: true, keySize: 0, valueSize: 0, entries: 65_536,
            elements: 0, cpus: 2)
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

    @Test func localStorageGetsNoSlack() {
        // memlock 464 against a cgroup charge of 500 would mean the elements
        // stopped being charged: it must fail although the bytes are close.
        let m = measurement("SK_STORAGE", reported: 464, measured: 500)
        #expect(!RatioBound.of(m).contains(m))
        let real = measurement("SK_STORAGE", reported: 464, measured: 102_400)
        #expect(RatioBound.of(real).contains(real))
    }
}

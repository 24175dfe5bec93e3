import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `--jobs`: how many guests, and what a test is expected to take.
@Suite(.tags(.unit)) struct GuestSharesTests {
    static let suite = TestFilter(nil).select(from: Catalog.all)

    @Test func aTestWithoutAMeasurementIsTypicalOrItsBound() {
        #expect(TestSpec("t/a", "a").expectedSeconds == TestSpec.typicalSeconds)
        #expect(
            TestSpec("t/b", "b", timeoutSeconds: 300).expectedSeconds == TestSpec.typicalSeconds)
        #expect(TestSpec("t/c", "c", timeoutSeconds: 60, expectedSeconds: 6).expectedSeconds == 6)
        #expect(Catalog.all.allSatisfy { $0.expectedSeconds <= Double($0.timeoutSeconds) })
    }

    @Test func theDefaultIsTheCoresTheGuestsKeepBusyCappedByMemory() {
        // Single-threaded TCG: one host thread per guest.
        #expect(
            GuestShares.defaultJobs(
                cores: 2, availableMiB: 20_000, memoryMiB: 1024, hostThreadsPerGuest: 1) == 2)
        // Memory holds one guest only (1024 + QEMU's overhead each).
        #expect(
            GuestShares.defaultJobs(
                cores: 8, availableMiB: 2_000, memoryMiB: 1024, hostThreadsPerGuest: 1) == 1)
        #expect(
            GuestShares.defaultJobs(
                cores: 8, availableMiB: 4_000, memoryMiB: 1024, hostThreadsPerGuest: 1) == 3)
        // Multi-threaded TCG or KVM with 2 vCPUs: a guest keeps two cores busy.
        #expect(
            GuestShares.defaultJobs(
                cores: 2, availableMiB: 20_000, memoryMiB: 1024, hostThreadsPerGuest: 2) == 1)
        #expect(
            GuestShares.defaultJobs(
                cores: 8, availableMiB: 20_000, memoryMiB: 1024, hostThreadsPerGuest: 2) == 4)
        // Never none.
        #expect(
            GuestShares.defaultJobs(
                cores: 1, availableMiB: 100, memoryMiB: 1024, hostThreadsPerGuest: 4) == 1)
        #expect(GuestShares.hostThreads(accelerator: .tcg, cpus: 2, tcgThreading: .single) == 1)
        #expect(GuestShares.hostThreads(accelerator: .tcg, cpus: 4, tcgThreading: .multi) == 4)
        #expect(GuestShares.hostThreads(accelerator: .kvm, cpus: 2, tcgThreading: .single) == 2)
    }

    @Test func availableMemoryIsMemAvailable() {
        let meminfo =
            "MemTotal:       24683008 kB\nMemFree:  1000 kB\nMemAvailable:   23910400 kB\n"
        #expect(GuestShares.availableMemoryMiB(meminfo: meminfo) == 23_350)
    }

    /// `--jobs 0` asks for the host-sized number; below that is refused.
    @Test func negativeJobsAreRefused() throws {
        var options = RunOptions()
        options.jobs = -1
        let error = try #require(refusal { try options.check() })
        #expect(error.kind == .usage)
        #expect(error.input == "--jobs -1")
        for jobs in [0, 2] {
            options.jobs = jobs
            #expect(refusal { try options.check() } == nil)
        }
    }

    /// The guests' outcomes as one: records in the selection's order,
    /// boots added up, the phases of the guest that took longest.
    @Test func outcomesMergeInTheSelectionsOrder() {
        var a = GuestSession.Outcome()
        a.records = [
            TestRecord(name: "t/3", outcome: .pass), TestRecord(name: "t/1", outcome: .pass),
        ]
        a.phases = [.boot: 8, .tests: 10, .teardown: 0.1]
        a.boots = 2
        var b = GuestSession.Outcome()
        b.records = [TestRecord(name: "t/2", outcome: .kernelCrash)]
        b.phases = [.boot: 9, .tests: 12, .teardown: 0.2]
        b.boots = 1
        b.kernelRelease = "6.12"
        let merged = GuestPool.merge([a, b], order: ["t/1", "t/2", "t/3"])
        #expect(merged.records.map(\.name) == ["t/1", "t/2", "t/3"])
        #expect(merged.boots == 3)
        #expect(merged.phases == b.phases)
        #expect(merged.kernelRelease == "6.12")
    }
}

/// An interrupted run's report with several guests, which finish tests out
/// of the selection's order: the selection's order still, not-run between.
@Suite(.tags(.unit)) struct PartialRunOrderTests {
    @Test func finishedOutOfOrderIsReportedInTheSelectionsOrder() {
        let partial = PartialRun(
            wrapping: RunRecorder(), kernel: "k", selected: ["t/1", "t/2", "t/3"])
        partial.finished(TestRecord(name: "t/3", outcome: .pass))
        partial.finished(TestRecord(name: "test_progs/x", outcome: .pass))
        partial.finished(TestRecord(name: "t/1", outcome: .fail))
        let report = partial.report(interruptedBecause: "SIGINT")
        #expect(report.records.map(\.name) == ["t/1", "t/2", "t/3", "test_progs/x"])
        #expect(report.records.map(\.outcome) == [.fail, .notRun, .pass, .pass])
    }
}

import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `--jobs`: how many guests, and which tests each runs.
@Suite(.tags(.unit)) struct GuestSharesTests {
    static let suite = TestFilter(nil).select(from: Catalog.all)

    static func load(_ share: [TestSpec]) -> Double { share.map(\.expectedSeconds).reduce(0, +) }

    @Test(arguments: [1, 2, 3, 4, 7, 36, 37, 38, 100])
    func everyTestRunsExactlyOnceInCatalogOrder(jobs: Int) {
        let shares = GuestShares.split(Self.suite, jobs: jobs)
        #expect(shares.count == min(jobs, Self.suite.count))
        #expect(shares.allSatisfy { !$0.isEmpty })
        let names = shares.flatMap { $0.map(\.name) }
        #expect(names.sorted() == Self.suite.map(\.name).sorted())
        #expect(Set(names).count == names.count)
        let position = Dictionary(
            uniqueKeysWithValues: Self.suite.enumerated().map { ($1.name, $0) })
        for share in shares {
            let order = share.compactMap { position[$0.name] }
            #expect(order == order.sorted(), "each guest runs its tests in the catalog's order")
        }
    }

    @Test func oneJobIsTheWholeListAsItIs() throws {
        #expect(GuestShares.split(Self.suite, jobs: 1) == [Self.suite])
        let fixtures = try TestBench.selectTests(filter: "fixture/pass,fixture/crash")
        #expect(GuestShares.split(fixtures, jobs: 1) == [fixtures])
        #expect(GuestShares.split([], jobs: 4).isEmpty)
    }

    @Test func moreJobsThanTestsBootsOneGuestPerTest() throws {
        let tests = try TestBench.selectTests(filter: "fixture/pass,fixture/warn,fixture/crash")
        let shares = GuestShares.split(tests, jobs: 8)
        #expect(shares.map(\.count) == [1, 1, 1])
    }

    @Test func theSameTestsAlwaysSplitTheSameWay() {
        let first = GuestShares.split(Self.suite, jobs: 2)
        for _ in 0..<5 { #expect(GuestShares.split(Self.suite, jobs: 2) == first) }
    }

    /// The default suite on two guests: the measured hints put the heavy
    /// tests (hash/update_atomic, memory/storage/*, the storage race) on
    /// both, and the two shares within one typical test of each other.
    @Test func theDefaultSuiteSplitsEvenlyOverTwoGuests() {
        let shares = GuestShares.split(Self.suite, jobs: 2)
        let loads = shares.map(Self.load)
        #expect(abs(loads[0] - loads[1]) <= TestSpec.typicalSeconds)
        let heavy = Self.suite.filter { $0.expectedSeconds >= 3.5 }.map(\.name)
        #expect(heavy.count >= 3)
        for share in shares {
            #expect(share.contains { heavy.contains($0.name) }, "each guest has a heavy test")
        }
        // No worse than alternating by count. With the durations measured
        // for the hints, alternating gave 20.2 s + 16.6 s, this 18.7 + 18.1.
        let alternating = (0..<2).map { k in
            Self.load(Self.suite.enumerated().filter { $0.offset % 2 == k }.map(\.element))
        }
        #expect(loads.max()! <= alternating.max()!)
    }

    /// Recorded times outrank the catalog's estimates: one test the
    /// history says is long gets a guest to itself.
    @Test func recordedTimesOutrankTheEstimates() {
        let tests = (1...5).map { TestSpec("t/\($0)", "t") }
        let recorded = ["t/4": 10.0, "t/1": 1, "t/2": 1, "t/3": 1, "t/5": .nan]
        let shares = GuestShares.split(tests, jobs: 2, recorded: recorded).map { $0.map(\.name) }
        #expect(shares == [["t/4"], ["t/1", "t/2", "t/3", "t/5"]])
    }

    /// The default suite's real times (both guests of a `--jobs 2` run,
    /// split by the estimates: 16.7 s and 13.5 s): split by those times,
    /// the two guests come within one typical test of each other, and the
    /// longer is shorter than the estimates made it.
    @Test func theRecordedTimesOfARealRunBalanceTheNextOne() throws {
        var recorded: [String: Double] = [:]
        var byEstimate: [[String]] = []
        for guest in 1...2 {
            let text = try ParserFixture.text("ktap/agent-default-suite-guest-\(guest).ktap")
            let records = RecordBuilder.records(from: KTAPParser.parse(text))
            for record in records { recorded[record.name] = try #require(record.duration) }
            byEstimate.append(records.map(\.name))
        }
        #expect(recorded.count == Self.suite.count)
        func load(_ names: [String]) -> Double { names.compactMap { recorded[$0] }.reduce(0, +) }
        let estimated = GuestShares.split(Self.suite, jobs: 2).map { $0.map(\.name) }
        #expect(estimated == byEstimate, "the fixture is the split the estimates make")
        let balanced = GuestShares.split(Self.suite, jobs: 2, recorded: recorded)
            .map { load($0.map(\.name)) }
        #expect(abs(balanced[0] - balanced[1]) <= TestSpec.typicalSeconds)
        #expect(balanced.max()! < estimated.map(load).max()! - 1)
    }

    /// Equal hints (tests nobody measured) split by count, neighbours apart.
    @Test func equalTestsSplitByCountAndAlternate() {
        let tests = (1...5).map { TestSpec("t/\($0)", "t") }
        let shares = GuestShares.split(tests, jobs: 2).map { $0.map(\.name) }
        #expect(shares == [["t/1", "t/3", "t/5"], ["t/2", "t/4"]])
    }

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

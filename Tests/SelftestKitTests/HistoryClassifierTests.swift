import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// New, known and flaky, flips and flakes: pure functions over scripted
/// histories, no database.
@Suite(.tags(.unit)) struct HistoryClassifierTests {
    /// `outcomes` of one test, oldest first, an hour apart, on `kernel`.
    static func history(
        _ outcomes: [Outcome], test: String = "storage/sk/x", kernel: String = "k1",
        from start: Int64 = 0
    ) -> [TestRun] {
        outcomes.enumerated().map { index, outcome in
            TestRun(
                runId: start + Int64(index),
                startedAt: Date(timeIntervalSince1970: Double(start + Int64(index)) * 3600),
                name: test, outcome: outcome.rawValue, kernelKey: kernel)
        }
    }

    @Test func aFailureAfterAPassIsNewAndSaysWhenItPassed() {
        let earlier = Self.history([.fail, .pass])
        #expect(
            HistoryClassifier.classify(.fail, earlier: earlier)
                == .new(lastPassed: Date(timeIntervalSince1970: 3600)))
        #expect(HistoryClassifier.classify(.kernelCrash, earlier: earlier) != nil)
    }

    @Test func aFailureAfterAFailureIsKnownWithItsCount() {
        #expect(
            HistoryClassifier.classify(.fail, earlier: Self.history([.fail, .pass, .timeout]))
                == .known(failed: 2, of: 3))
    }

    @Test func aPassAfterFailuresIsFlakyAndAPassAfterPassesIsNothing() {
        #expect(
            HistoryClassifier.classify(.pass, earlier: Self.history([.pass, .fail, .pass]))
                == .flaky(failed: 1, of: 3))
        #expect(HistoryClassifier.classify(.pass, earlier: Self.history([.pass, .pass])) == nil)
    }

    @Test func withoutHistoryOrForASkipThereIsNothingToSay() {
        #expect(HistoryClassifier.classify(.fail, earlier: []) == nil)
        #expect(HistoryClassifier.classify(.skip, earlier: Self.history([.fail])) == nil)
        #expect(HistoryClassifier.classify(.notRun, earlier: Self.history([.pass])) == nil)
    }

    /// Skips and not-runs say nothing about the test: passed over.
    @Test func skipsAndNotRunsInTheHistoryArePassedOver() {
        #expect(
            HistoryClassifier.classify(.fail, earlier: Self.history([.pass, .skip, .notRun]))
                == .new(lastPassed: Date(timeIntervalSince1970: 0)))
        #expect(HistoryClassifier.classify(.fail, earlier: Self.history([.skip])) == nil)
    }

    @Test func onlyTheLastTenCount() {
        let earlier = Self.history(
            Array(repeating: .fail, count: 5) + Array(repeating: .pass, count: 10))
        #expect(HistoryClassifier.classify(.pass, earlier: earlier) == nil)
        let recent = Self.history(Array(repeating: .pass, count: 12) + [.fail, .fail])
        #expect(HistoryClassifier.classify(.fail, earlier: recent) == .known(failed: 2, of: 10))
    }

    @Test func notesAreGivenPerTestFromThatTestsHistory() {
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "")
        report.records = [
            TestRecord(name: "a", outcome: .fail), TestRecord(name: "b", outcome: .pass),
            TestRecord(name: "c", outcome: .fail),
        ]
        let earlier =
            Self.history([.pass], test: "a") + Self.history([.fail], test: "b")
            + Self.history([.fail], test: "c")
        let notes = HistoryClassifier.notes(for: report, earlier: earlier)
        #expect(notes["a"] == .new(lastPassed: Date(timeIntervalSince1970: 0)))
        #expect(notes["b"] == .flaky(failed: 1, of: 1))
        #expect(notes["c"] == .known(failed: 1, of: 1))
    }

    /// The test running when `--run-timeout` ran out is a `timeout` in the
    /// report, but neither a new failure now nor a flip in the store.
    @Test func aTestTheRunBoundCutShortIsNeitherNewNorAFlip() throws {
        let boot = GuestBoot.Result(
            end: .runTimeout(14),
            output: BootTracker(ktap: "KTAP version 1\n1..2\n# start a\n", console: ""),
            bootSeconds: 4, teardownSeconds: 0)
        let judge = BootVerdicts(memoryMiB: 1024, runTimeout: 14)
        let cut = try #require(judge.verdicts(for: ["a", "b"], boot: boot).records.first)
        #expect(cut.outcome == .timeout)
        #expect(cut.cutByRunBound == true)
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "")
        report.records = [cut]
        #expect(
            HistoryClassifier.notes(for: report, earlier: Self.history([.pass], test: "a")).isEmpty)
        let row = HistoryResult(record: cut, runId: 1, limit: 100)
        #expect(row.outcome == "not-run")
        #expect(HistoryClassifier.flips(Self.history([.pass, .notRun, .pass])) == 0)
    }

    @Test func flipsCountOutcomeChangesBetweenConsecutiveVerdicts() {
        #expect(HistoryClassifier.flips(Self.history([.pass, .fail, .fail, .pass])) == 2)
        #expect(HistoryClassifier.flips(Self.history([.pass, .skip, .pass, .notRun])) == 0)
        #expect(HistoryClassifier.flips(Self.history([.fail, .timeout])) == 1)
        #expect(HistoryClassifier.flips([]) == 0)
    }

    /// A pass on one kernel and a failure on another is a regression
    /// between kernels, not a flake: only same-kernel changes count.
    @Test func flakesAreOutcomeChangesOnTheSameKernelWithCounts() {
        let runs =
            Self.history([.pass, .fail, .pass], test: "x", kernel: "k1")
            + Self.history([.pass, .pass], test: "x", kernel: "k2", from: 10)
            + Self.history([.pass], test: "y", kernel: "k1", from: 20)
            + Self.history([.fail], test: "y", kernel: "k2", from: 21)
            + Self.history([.fail, .pass, .fail, .pass], test: "z", kernel: "k2", from: 30)
        let flakes = FlakyTest.detect(runs)
        #expect(flakes.map(\.test) == ["z", "x"], "most flips first")
        let x = flakes[1]
        #expect(x.kernels.count == 1)
        #expect(x.kernels[0].kernel == "k1")
        #expect((x.kernels[0].runs, x.kernels[0].passed, x.kernels[0].failed) == (3, 2, 1))
        #expect(x.kernels[0].flips == 2)
        #expect(x.kernels[0].outcomes == ["pass": 2, "fail": 1])
        #expect(x.kernels[0].lastFlip == "1970-01-01T02:00:00Z")
        #expect(FlakyTest.text(flakes).contains("z     k2"))
    }

    @Test func aTestsHistorySaysRunsPassRateLastFailureAndFlips() throws {
        var runs =
            Self.history([.pass, .fail, .pass, .skip], test: "x", kernel: "k1")
            + Self.history([.timeout], test: "x", kernel: "k2", from: 10)
        runs[0].duration = 2
        runs[2].duration = 4
        runs[1].duration = 100  // a failure's time says little about the test's
        let history = try #require(TestHistory.summarize(runs).first)
        #expect(history.runs == 5)
        #expect(history.passed == 2)
        #expect(history.passRate == 0.5, "2 of 4 verdicts: the skip says nothing")
        #expect(history.flips == 2)
        #expect(history.lastFailure?.outcome == "timeout")
        #expect(history.lastFailure?.kernel == "k2")
        #expect(history.medianSeconds == 3)
        let text = TestHistory.text([history])
        #expect(text.split(separator: "\n").first?.hasPrefix("TEST  RUNS  PASS  FLIPS") == true)
        #expect(text.contains("x     5     50%   2      1970-01-01T10:00:00Z timeout on k2"))
    }

    @Test func sinceReadsSpansAndDates() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(try HistoryQuery.since(parsing: "7d", now: now) == now.addingTimeInterval(-604_800))
        #expect(try HistoryQuery.since(parsing: "12h", now: now) == now.addingTimeInterval(-43_200))
        #expect(
            try HistoryQuery.since(parsing: "2026-12-01")
                == ISO8601DateFormatter().date(from: "2026-12-01T00:00:00Z"))
        for bad in ["yesterday", "7x", "-3d", ""] {
            let error = refusal { _ = try HistoryQuery.since(parsing: bad) }
            #expect(error?.input == "--since \(bad)", "\(bad)")
        }
    }

    /// The JSON report carries each note; it reads back as written.
    @Test func theJSONReportCarriesTheClassification() throws {
        var report = RunReport(kernel: "k", accelerator: .tcg, startedAt: "")
        report.records = [
            TestRecord(name: "a", outcome: .fail), TestRecord(name: "b", outcome: .pass),
        ]
        report.records[0].history = .known(failed: 2, of: 3)
        report.records[1].history = .flaky(failed: 1, of: 10)
        let data = try JSONReport.data(for: report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"kind\" : \"known\""))
        #expect(try JSONReport.report(from: data) == report)
        let summary = TerminalReport.summary(for: report, color: false)
        #expect(summary.contains("FAIL    a\n        known: failed 2 of the last 3 on this kernel"))
        #expect(
            summary.contains(
                "Passed, but flaky on this kernel:\nPASS    b\n        flaky: 1 of last 10 failed"))
        #expect(summary.contains("History:   1 known · 1 flaky (on this kernel)"))
    }
}

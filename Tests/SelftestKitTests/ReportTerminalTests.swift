import SelftestKit
import SelftestTestSupport
import Testing

@Suite("Report: terminal", .tags(.unit))
struct ReportTerminalTests {
    func record(_ name: String) throws -> TestRecord {
        try #require(ReportSamples.records.first { $0.name == name })
    }

    @Test func passIsOneLine() throws {
        let line = TerminalReport.line(
            for: try record("storage/sk/omem_charge_delete"), color: false)
        #expect(line == "PASS    storage/sk/omem_charge_delete (0.12s)")
    }

    @Test func failShowsItsMessageIndentedBelow() throws {
        let line = TerminalReport.line(for: try record("fixture/fail"), color: false)
        #expect(
            line == """
                FAIL    fixture/fail (0.01s)
                        fixture arithmetic: expected 3, got 2 (line 9)
                """)
    }

    @Test func everyOutcomeHasItsTag() throws {
        let tags = [
            "fixture/skip": "SKIP", "fixture/hang": "TIMEOUT", "fixture/warn": "SPLAT",
            "fixture/crash": "CRASH", "fixture/build_error": "BUILD",
            "fixture/hang_guest": "INFRA", "hash/update_flags": "FAIL",
        ]
        for (name, tag) in tags {
            let line = TerminalReport.line(for: try record(name), color: false)
            #expect(line.hasPrefix(tag.padding(toLength: 8, withPad: " ", startingAt: 0) + name))
        }
    }

    @Test func evidenceNamesTheSplatCrashAndFailingCase() throws {
        let warn = TerminalReport.line(for: try record("fixture/warn"), color: false)
        #expect(warn.split(separator: "\n")[1] == "        " + ReportSamples.warning.title)

        let crash = TerminalReport.line(for: try record("fixture/crash"), color: false)
        let crashLines = crash.split(separator: "\n")
        #expect(crashLines[1] == "        Kernel panic - not syncing: sysrq triggered crash")
        #expect(crash.contains("sysrq_handle_crash+0x16/0x20"))

        let hash = TerminalReport.line(for: try record("hash/update_flags"), color: false)
        #expect(hash.contains("FAIL    LRU_HASH: update with BPF_NOEXIST: expected -EEXIST"))
        #expect(!hash.contains("PASS"))
    }

    @Test func evidenceIsBoundedAndFreeOfControlCharacters() {
        let log = (1...40).map { "verifier: \u{1B}[1minsn \($0)\u{1B}[0m" }.joined(separator: "\n")
        let record = TestRecord(name: "progs/huge", outcome: .buildError, message: log)
        let lines = TerminalReport.line(for: record, color: false).split(separator: "\n")
        #expect(lines.count == 1 + TerminalReport.maxEvidenceLines)
        #expect(lines[1] == "        verifier: [1minsn 1[0m")
        #expect(lines.last == "        … 33 more line(s)")
        #expect(!lines.joined().contains("\u{1B}"))
    }

    @Test func colorOnlyWhenAsked() throws {
        let failing = try record("fixture/fail")
        #expect(!TerminalReport.line(for: failing, color: false).contains("\u{1B}["))
        #expect(TerminalReport.line(for: failing, color: true).contains("\u{1B}[31mFAIL"))
        let summary = TerminalReport.summary(for: ReportSamples.report, color: false)
        #expect(!summary.contains("\u{1B}"))
        let colored = TerminalReport.summary(for: ReportSamples.report, color: true)
        #expect(colored.contains("\u{1B}[32m2 pass"))
        #expect(colored.split(separator: "\n").last == "2 passed, 7 failed, 1 skipped")
    }

    @Test func summaryListsCountsPhasesProblemsAndArtifacts() {
        let summary = TerminalReport.summary(for: ReportSamples.report, color: false)
        let lines = summary.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "2 passed, 7 failed, 1 skipped")
        #expect(
            summary.contains("compile 0.4s · image 0.1s · boot 3.9s · tests 1.2s · teardown 0.1s"))
        #expect(summary.contains("2 pass · 1 skip · 1 splat · 2 fail · 1 timeout"))
        #expect(summary.contains("Time:      5.7s total · compile 0.4s"))
        #expect(summary.contains("Artifacts: .selftests/runs/2024-05-02T10-15-30"))
        #expect(summary.contains("Kernel:    bpf-next (6.9.0-rc1+) on kvm"))
        #expect(summary.contains("fixture arithmetic: expected 3, got 2 (line 9)"))
        #expect(summary.contains("SPLAT   (outside any test)"))
        #expect(summary.contains("WARNING: possible circular locking dependency detected"))
        #expect(summary.contains("Note:      1 kernel splat(s) outside any test; the run fails"))
        #expect(summary.contains("        |     ^\n        1 error generated."))
        #expect(summary.contains("SKIP    fixture/skip (0.00s)\n        needs CONFIG_BPF_LSM=y"))
        #expect(!summary.contains("PASS    storage"))
    }

    @Test func finalLineOmitsSkippedWhenNone() {
        let summary = TerminalReport.summary(for: ReportSamples.green, color: false)
        #expect(summary.split(separator: "\n").last == "2 passed, 0 failed")
        #expect(!summary.contains("Not passed:"))
        #expect(summary.contains("Time:      9.8s total · boot 9.5s · tests 0.3s"))
        #expect(!summary.contains("Artifacts:"))
    }
}

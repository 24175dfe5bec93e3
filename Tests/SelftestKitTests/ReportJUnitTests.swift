import Foundation
import FoundationXML
import SelftestKit
import SelftestTestSupport
import Testing

@Suite("Report: JUnit", .tags(.unit))
struct ReportJUnitTests {
    let xml: ParsedXML

    init() throws {
        xml = try ParsedXML(JUnitReport.xml(for: ReportSamples.report))
    }

    func testcase(_ group: String, _ name: String) throws -> XMLElement? {
        try xml.element(
            "/testsuites/testsuite[@name='\(group)']/testcase[@name='\(name)']")
    }

    @Test func rootCarriesTotals() throws {
        let root = try #require(xml.document.rootElement())
        #expect(root.name == "testsuites")
        #expect(root[attribute: "name"] == "selftests")
        // 2 storage, 2 hash cases, 7 fixtures, kernel/unattributed.
        #expect(root[attribute: "tests"] == "12")
        #expect(root[attribute: "failures"] == "5")
        #expect(root[attribute: "errors"] == "3")
        #expect(root[attribute: "skipped"] == "1")
        // The run's wall time, as the terminal's `Time:` says: its phases.
        #expect(root[attribute: "time"] == "5.700")
        #expect(try xml.elements("//testcase").count == 12)
    }

    @Test func oneSuitePerGroupWithCountsAndProperties() throws {
        let suites = try xml.elements("/testsuites/testsuite")
        #expect(suites.map { $0[attribute: "name"] } == ["storage", "hash", "fixture", "kernel"])
        let fixture = try #require(suites.first { $0[attribute: "name"] == "fixture" })
        #expect(fixture[attribute: "tests"] == "7")
        #expect(fixture[attribute: "failures"] == "3")
        #expect(fixture[attribute: "errors"] == "3")
        #expect(fixture[attribute: "skipped"] == "1")
        #expect(fixture[attribute: "time"] == "3.460")
        #expect(fixture[attribute: "timestamp"] == "2024-05-02T10:15:30Z")
        for suite in suites {
            let properties = try suite.nodes(forXPath: "properties/property")
                .compactMap { $0 as? XMLElement }
                .map { ($0[attribute: "name"] ?? "", $0[attribute: "value"] ?? "") }
            #expect(properties.map(\.0) == ["kernel", "kernelRelease", "accelerator"])
            #expect(properties.map(\.1) == ["bpf-next", "6.9.0-rc1+", "kvm"])
        }
    }

    /// As the guest reports them: a parametrised test has seconds, its
    /// cases none. The suite's time still covers it, and the root's time
    /// is the run's, boots included (a 16 s run is not "1.9 s").
    @Test func suiteTimeCoversTestsWhoseCasesHaveNoTimeAndRootTimeIsTheRuns() throws {
        let report = RunReport(
            kernel: "k", accelerator: .tcg, startedAt: "2026-12-02T15:36:53Z",
            phases: ["compile": 2.3, "boot": 9.8, "tests": 3.6, "teardown": 0.1],
            records: [
                TestRecord(name: "storage/sk/a", outcome: .pass, duration: 0.4),
                TestRecord(
                    name: "storage/sk/b", outcome: .pass, duration: 0.9,
                    subtests: [
                        TestRecord(name: "x", outcome: .pass),
                        TestRecord(name: "y", outcome: .pass),
                    ]),
            ])
        let parsed = try ParsedXML(JUnitReport.xml(for: report))
        let suite = try #require(try parsed.element("/testsuites/testsuite[@name='storage']"))
        #expect(suite[attribute: "tests"] == "3")
        #expect(suite[attribute: "time"] == "1.300")
        let root = try #require(parsed.document.rootElement())
        #expect(root[attribute: "time"] == "15.800")
        #expect(
            TerminalReport.summary(for: report, color: false).contains("Time:      15.8s total"))
    }

    @Test func passingTestIsABareTestcase() throws {
        let pass = try #require(try testcase("storage", "sk/omem_charge_delete"))
        #expect(pass[attribute: "classname"] == "selftests.storage")
        #expect(pass[attribute: "time"] == "0.120")
        #expect(pass.childCount == 0)
    }

    @Test func parametrisedTestBecomesOneTestcasePerCase() throws {
        let cases = try xml.elements("/testsuites/testsuite[@name='hash']/testcase")
        #expect(
            cases.map { $0[attribute: "name"] } == ["update_flags/HASH", "update_flags/LRU_HASH"])
        #expect(cases.allSatisfy { $0[attribute: "classname"] == "selftests.hash" })
        let failure = try #require(try cases[1].nodes(forXPath: "failure").first as? XMLElement)
        #expect(failure[attribute: "type"] == "fail")
        #expect(failure[attribute: "message"]?.hasPrefix("update with BPF_NOEXIST") == true)
        #expect(cases[0].childCount == 0)
    }

    @Test func failureCarriesFirstLineAndDiagnostics() throws {
        let test = try #require(try testcase("fixture", "fail"))
        let failure = try #require(try test.nodes(forXPath: "failure").first as? XMLElement)
        #expect(failure[attribute: "type"] == "fail")
        #expect(failure[attribute: "message"] == "fixture arithmetic: expected 3, got 2 (line 9)")
        let text = failure.stringValue ?? ""
        #expect(text.contains("expected 3, got 2") && text.contains("# computed a + b = 2"))
        let out = try #require(try test.nodes(forXPath: "system-out").first)
        #expect(out.stringValue == "# a = 1, b = 1\n# computed a + b = 2")
    }

    @Test func everyOutcomeMapsToItsElementAndType() throws {
        let expected: [(String, String, String)] = [
            ("hang", "failure", "timeout"), ("warn", "failure", "splat"),
            ("crash", "error", "kernel-crash"), ("build_error", "error", "build-error"),
            ("hang_guest", "error", "infra-error"),
        ]
        for (name, element, type) in expected {
            let test = try #require(try testcase("fixture", name))
            let result = try #require(test.children?.first as? XMLElement)
            #expect(result.name == element, "\(name)")
            #expect(result[attribute: "type"] == type, "\(name)")
        }
        let skip = try #require(try testcase("fixture", "skip"))
        let skipped = try #require(try skip.nodes(forXPath: "skipped").first as? XMLElement)
        #expect(skipped[attribute: "message"] == "needs CONFIG_BPF_LSM=y")
    }

    @Test func splatsAndCrashesCarryTheirKernelLines() throws {
        let warn = try #require(try xml.element("//testcase[@name='warn']/failure"))
        #expect(warn[attribute: "message"] == ReportSamples.warning.title)
        #expect(warn.stringValue?.contains("RIP: 0010:bpf_fixture_warn+0x15/0x20") == true)
        #expect(warn.stringValue?.contains("---[ end trace 0000000000000000 ]---") == true)

        let crash = try #require(try xml.element("//testcase[@name='crash']/error"))
        #expect(crash[attribute: "message"] == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(crash.stringValue?.contains("sysrq_handle_crash+0x16/0x20") == true)

        let build = try #require(try xml.element("//testcase[@name='build_error']/error"))
        #expect(build.stringValue == ReportSamples.buildMessage)
        #expect(
            build[attribute: "message"]?.hasSuffix("undeclared identifier 'not_a_helper'") == true)
    }

    @Test func unattributedSplatsFailAKernelTestcase() throws {
        let test = try #require(try testcase("kernel", "unattributed"))
        #expect(test[attribute: "classname"] == "selftests.kernel")
        let failure = try #require(try test.nodes(forXPath: "failure").first as? XMLElement)
        #expect(failure[attribute: "type"] == "splat")
        #expect(failure[attribute: "message"]?.contains("circular locking dependency") == true)
        #expect(failure.stringValue?.contains("6.9.0-rc1+ #1 Not tainted") == true)

        let green = try ParsedXML(JUnitReport.xml(for: ReportSamples.green))
        #expect(try green.elements("//testsuite").count == 1)
        #expect(try green.element("/testsuites")?[attribute: "failures"] == "0")
        #expect(try green.elements("//property[@name='kernelRelease']").isEmpty)
    }

    @Test func hostileTextStaysWellFormed() throws {
        let message = "bad <tag> & \"quotes\" 'apostrophes' \u{1B}[31mred\u{1B}[0m\u{0}"
        let report = RunReport(
            kernel: "k<&>", accelerator: .tcg, startedAt: "now",
            records: [
                TestRecord(
                    name: "esc/case", outcome: .fail, message: message + "\nsecond line",
                    diagnostics: ["# \u{7}bell & <stuff>"])
            ])
        let text = JUnitReport.xml(for: report)
        #expect(!text.contains("\u{1B}") && !text.contains("\u{0}") && !text.contains("\u{7}"))
        let parsed = try ParsedXML(text)
        let failure = try #require(try parsed.element("//testcase[@name='case']/failure"))
        #expect(failure[attribute: "message"] == "bad <tag> & \"quotes\" 'apostrophes' [31mred[0m")
        #expect(failure.stringValue?.hasSuffix("second line\n\n# bell & <stuff>") == true)
        #expect(try parsed.element("//property[@name='kernel']")?[attribute: "value"] == "k<&>")
    }

    @Test func parentWorseThanItsCasesIsReportedToo() throws {
        let record = TestRecord(
            name: "hash/map_free", outcome: .splat, splats: [ReportSamples.warning],
            subtests: [
                TestRecord(name: "hash/map_free/HASH", outcome: .pass),
                TestRecord(name: "PERCPU_HASH", outcome: .pass),
            ])
        let report = RunReport(
            kernel: "k", accelerator: .tcg, startedAt: "now", records: [record])
        let parsed = try ParsedXML(JUnitReport.xml(for: report))
        let names = try parsed.elements("//testcase").map { $0[attribute: "name"] }
        #expect(names == ["map_free/HASH", "map_free/PERCPU_HASH", "map_free"])
        #expect(try parsed.element("/testsuites")?[attribute: "failures"] == "1")
    }
}

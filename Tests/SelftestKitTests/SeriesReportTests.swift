import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The series' reports: JSON, the matrix, the mailing-list text, JUnit, b4.
@Suite(.tags(.unit)) struct SeriesReportTests {
    /// The scripted series of `SeriesRunnerTests`: a carried-over docs
    /// patch, a regression at 2, a build break at 3, a flake at 4.
    static func report() throws -> (SeriesReport, [String]) {
        let setup = try SeriesRunnerTests.setup()
        defer { setup.repo.remove() }
        let c = setup.commits
        let tester = ScriptedTester(tests: SeriesRunnerTests.tests)
        tester.builds = [
            c[0]: .kernel(digest: "k0"), c[1]: .kernel(digest: "k0"),
            c[3]: .fails("expected ';' before '}' token"),
        ]
        tester.outcomes = [
            c[2]: ["storage/sk/omem_charge_delete": [.fail]],
            c[4]: [
                "storage/sk/omem_charge_delete": [.fail],
                "storage/sk/user_update_flags": [.timeout, .pass],
            ],
        ]
        return (try SeriesRunnerTests.run(setup, tester: tester), c)
    }

    @Test func theJSONNamesTheFirstBadPatchInTheIssuesShapeAndRoundTrips() throws {
        let (report, c) = try Self.report()
        let data = try report.json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let regressions = try #require(object["regressions"] as? [[String: Any]])
        #expect(regressions.count == 1)
        #expect(regressions[0]["test"] as? String == "storage/sk/omem_charge_delete")
        let firstBad = try #require(regressions[0]["first_bad"] as? [String: Any])
        #expect(firstBad["position"] as? Int == 2)
        #expect(firstBad["subject"] as? String == "bpf: break the charge")
        #expect(firstBad["commit"] as? String == c[2])
        #expect((regressions[0]["evidence"] as? [String])?.isEmpty == false)
        #expect(object["exit_code"] as? Int == 1)
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["position"] as? Int } == [0, 1, 2, 3, 4])
        #expect((steps[3]["build"] as? [String: Any])?["built"] as? Bool == false)
        #expect(steps[1]["carried_from"] as? Int == 0)
        #expect(try SeriesReport.decode(data) == report)
    }

    /// A built step says what its run compiled; a carried one ran nothing.
    @Test func aStepLineSaysHowManyProgramsItCompiledAndHowLong() throws {
        var (report, _) = try Self.report()
        report.steps[2].run?.programs = ProgramCounts(compiled: 0, cached: 7, failed: 0)
        report.steps[2].run?.phases["compile"] = 1.23
        report.steps[1].run?.programs = ProgramCounts(compiled: 7, cached: 0, failed: 0)
        let built = SeriesText.stepLine(report.steps[2])
        #expect(built.contains("programs: 0 compiled, 7 cached (vmlinux.h and compile 1.2 s)"))
        #expect(!SeriesText.stepLine(report.steps[1]).contains("programs:"), "carried over")
        let decoded = try SeriesReport.decode(try report.json())
        #expect(decoded.steps[2].run?.programs == ProgramCounts(compiled: 0, cached: 7, failed: 0))
    }

    @Test func theMatrixMarksRegressionsFlakesBuildBreaksAndCarriedSteps() throws {
        let (report, c) = try Self.report()
        let lines = SeriesText.matrix(report)
        let row = { (position: Int) in lines.first { $0.hasPrefix(" \(position)/4") } ?? "" }
        #expect(row(0).contains(String(c[0].prefix(12))))
        #expect(row(1).contains("= 0"), "\(row(1))")
        #expect(row(2).contains("F! ."), "\(row(2))")
        #expect(row(3).contains("FAILED") && row(3).contains("-  -"), "\(row(3))")
        #expect(row(4).contains("F  T~"), "\(row(4))")
        #expect(lines.contains("A  storage/sk/omem_charge_delete"))
        #expect(lines.contains("B  storage/sk/user_update_flags"))

        let verdicts = SeriesText.verdicts(report)
        #expect(
            verdicts.contains(
                "  storage/sk/omem_charge_delete: fail, first bad patch 2/4 \"bpf: break the charge\" (\(c[2].prefix(12)))"
            ))
        #expect(
            verdicts.contains {
                $0.hasPrefix("  patch 3/4 \"bpf: typo\"") && $0.hasSuffix("builds again at 4/4")
            })
        #expect(verdicts.contains("  storage/sk/user_update_flags at 4/4: timeout, then pass"))
        #expect(
            SeriesText.headline(report).hasPrefix(
                "4 of 4 patch(es) tested: 1 regression, 1 build break(s)"))
    }

    @Test func theMarkdownIsPlainFixedWidthTextWithTheMatrixAsABlock() throws {
        let (report, _) = try Self.report()
        let text = SeriesText.markdown(report)
        #expect(!text.contains("<"), "no HTML")
        #expect(!text.contains("\u{1B}"), "no terminal colours")
        #expect(text.contains("\n    A  storage/sk/omem_charge_delete\n"))
        #expect(text.contains("first bad patch 2/4"))
        for line in SeriesText.matrix(report) {
            #expect(line.count <= 100, "fits a reply quoted twice: \(line)")
            #expect(text.contains("\n    \(line)\n") || line.isEmpty)
        }
    }

    @Test func junitHasOneSuitePerStep() throws {
        let (report, _) = try Self.report()
        let xml = JUnitReport.xml(for: report)
        let suites = xml.components(separatedBy: "<testsuite ").count - 1
        #expect(suites == 5)
        #expect(xml.contains(#"name="2/4 bpf: break the charge""#))
        #expect(
            xml.contains(
                #"<error message="the kernel did not build: kernel/bpf/hashtab.c:1: expected &apos;;&apos;"#
            ))
        #expect(xml.contains(#"type="build-error""#))
        #expect(xml.contains("<flakyFailure"))
        #expect(xml.contains(#"<property name="carriedFrom" value="0"/>"#))
    }

    @Test func b4SeesFailWarnAndPassPerPatchAndFindsThePatchByIdOrMessageId() throws {
        let (report, c) = try Self.report()
        let check = B4Check.make(report, patchIds: [c[2]: "abc123"])
        let statuses = check.patches.map { $0.results.first?.status }
        #expect(statuses == ["pass", "fail", "fail", "warn"])
        #expect(
            check.patches[1].results[0].summary == "breaks 1 test(s): storage/sk/omem_charge_delete"
        )
        #expect(check.patches[2].results[0].summary == "the kernel does not build")
        #expect(check.patches[0].results[0].summary.contains("same kernel as patch 0"))
        #expect(
            check.patches[0].results[0].summary.hasPrefix("2 of 2 pass"),
            "the pseudo-test for splats outside tests is no test of the user's")
        #expect(
            check.results(messageId: nil, patchId: "abc123", subject: nil)
                == check.patches[1].results)
        #expect(check.results(messageId: "<nope>", patchId: nil, subject: "nothing").isEmpty)
        let decoded = try B4Check.decode(try check.json())
        #expect(decoded == check)
        let array = try JSONSerialization.jsonObject(
            with: try B4Check.array(check.patches[1].results))
        let first = try #require((array as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["tool", "status", "summary", "details"])
    }
}

import Foundation
import SelftestKit
import SelftestTestSupport
import Testing

/// Reads the captured parser fixtures (`Fixtures/ktap`, `Fixtures/console`).
enum ParserFixture {
    static func text(_ path: String) throws -> String {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func ktap(_ name: String) throws -> KTAPDocument {
        KTAPParser.parse(try text("ktap/\(name)"))
    }
}

@Suite(.tags(.unit)) struct KTAPParserTests {
    @Test func specNestedExampleHasTwoSubtestsAndTheParentDiagnostic() throws {
        let document = try ParserFixture.ktap("spec-nested.ktap")
        #expect(document.hasVersionLine)
        #expect(document.plan == 1)
        let example = try #require(document.results.first)
        #expect(document.results.count == 1)
        #expect(example.name == "example")
        #expect(!example.ok)
        #expect(example.diagnostics == ["example failed"])
        #expect(example.subtests.map(\.name) == ["test_1", "test_2"])
        #expect(example.subtests.map(\.ok) == [true, false])
    }

    @Test func specMultilevelNestsThreeDeep() throws {
        let document = try ParserFixture.ktap("spec-multilevel.ktap")
        #expect(document.plan == 2)
        #expect(document.results.map(\.name) == ["example_test_1", "example_test_2"])
        let first = document.results[0]
        #expect(first.subtests.map(\.name) == ["test_3", "test_4"])
        #expect(first.subtests[0].subtests.map(\.name) == ["test_1", "test_2"])
        #expect(first.subtests[0].subtests.map(\.ok) == [false, true])
        #expect(first.subtests[1].directive == .init(kind: .skip, reason: ""))
        #expect(document.results[1].ok)
    }

    @Test func specFullExampleKeepsDiagnosticsAndSkipReasonsPerCase() throws {
        let document = try ParserFixture.ktap("spec-example.ktap")
        let main = try #require(document.results.first)
        #expect(main.name == "main_test" && !main.ok)
        #expect(
            main.subtests.map(\.name) == ["example_test_1", "example_test_2", "example_test_3"])
        #expect(main.subtests.map(\.ok) == [true, true, false])
        #expect(main.subtests[0].subtests[0].diagnostics == ["test_1: initializing test_1"])
        #expect(
            main.subtests[1].subtests[0].directive == .init(kind: .skip, reason: "test_1 skipped"))
        let third = main.subtests[2].subtests
        #expect(third.map(\.number) == [1, 2, 3])
        #expect(third[1].diagnostics == ["test_2: FAIL"])
        #expect(third[2].directive?.reason == "test_3 skipped")
    }

    @Test func tap14SubtestHeadersWithHyphenatedNames() throws {
        let document = try ParserFixture.ktap("kunit-skip_tests.ktap")
        #expect(document.hasVersionLine)
        #expect(document.plan == 2)
        #expect(document.results.map(\.name) == ["string-stream-test", "example"])
        let example = document.results[1]
        #expect(example.subtests.map(\.name) == ["example_simple_test", "example_skip_test"])
        #expect(example.subtests[0].diagnostics == ["example_simple_test: initializing"])
        #expect(
            example.subtests[1].directive
                == .init(kind: .skip, reason: "this test should be skipped"))
    }

    @Test func tabIndentedFailureIgnoresUnknownLines() throws {
        let document = try ParserFixture.ktap("kunit-is_test_passed-failure.ktap")
        #expect(document.results.map(\.ok) == [true, false])
        #expect(document.results[0].subtests.count == 8)
        let failed = try #require(document.results[1].subtests.first)
        #expect(failed.name == "example_simple_test" && !failed.ok)
        #expect(
            failed.diagnostics == [
                "example_simple_test: initializing",
                "example_simple_test: EXPECTATION FAILED at lib/kunit/example-test.c:30",
                "example_simple_test: example_simple_test failed",
            ])
    }

    @Test func tabIndentedTwoLevelsOfNesting() throws {
        let document = try ParserFixture.ktap("kunit-is_test_passed-all_passed_nested.ktap")
        let sysctl = try #require(document.results.first)
        #expect(sysctl.subtests.count == 4)
        #expect(sysctl.subtests[1].name == "example")
        #expect(
            sysctl.subtests[1].subtests.map(\.name) == ["example_simple_test", "example_mock_test"])
        #expect(document.results[1].subtests.count == 2)
    }

    @Test(arguments: [
        ("kunit-interrupted_tap_output.ktap", 3, ["kunit-resource-test", "kunit-try-catch-test"]),
        ("kunit-multiple_prefixes.ktap", 3, ["kunit-resource-test", "kunit-try-catch-test"]),
        ("kunit-pound_sign.ktap", 3, ["kunit-resource-test", "kunit-try-catch-test"]),
        ("kunit-kernel_panic_interrupt.ktap", 2, ["kunit-resource-test", "kunit-try-catch-test"]),
    ])
    func consoleCapturedKUnitLogsWithTimestampsAndLeakedLines(
        file: String, count: Int, firstNames: [String]
    ) throws {
        let document = try ParserFixture.ktap(file)
        #expect(document.hasVersionLine)
        #expect(document.plan == 3)
        #expect(document.results.count == count)
        #expect(Array(document.results.map(\.name).prefix(2)) == firstNames)
        #expect(document.results[0].subtests.count == 5)
        let allOK = document.results.allSatisfy(\.ok)
        #expect(allOK)
    }

    @Test func kselftestNestedOutputStaysDiagnostics() throws {
        let document = try ParserFixture.ktap("kunit-is_test_passed-kselftest.ktap")
        #expect(document.results.count == 2)
        let first = document.results[0]
        #expect(first.name == "selftests: membarrier: membarrier_test_single_thread")
        #expect(first.subtests.isEmpty)
        #expect(first.diagnostics.first == "selftests: membarrier: membarrier_test_single_thread")
        #expect(first.diagnostics.contains("TAP version 13"))
        #expect(first.diagnostics.contains("ok 1 sys_membarrier available"))
    }

    @Test func subtestHeaderAfterTheNestedVersionLine() throws {
        let header = try ParserFixture.ktap("kunit-parse_subtest_header.ktap")
        #expect(header.results.map(\.name) == ["suite"])
        #expect(header.results[0].subtests.map(\.name) == ["test"])
        let attributes = try ParserFixture.ktap("kunit-parse_attributes.ktap")
        let test = try #require(attributes.results.first?.subtests.first)
        #expect(test.name == "test")
        #expect(test.diagnostics.contains("test.speed: slow"))
        #expect(!test.diagnostics.contains { $0.hasPrefix("Subtest") })
    }

    @Test func missingPlansAndEmptySubtests() throws {
        let missing = try ParserFixture.ktap("kunit-is_test_passed-missing_plan.ktap")
        #expect(missing.plan == nil)
        #expect(missing.results.map(\.name) == ["sysctl_test", "example"])
        #expect(missing.results[0].subtests.count == 8)
        let empty = try ParserFixture.ktap("kunit-is_test_passed-no_tests_no_plan.ktap")
        #expect(empty.results.map(\.name) == ["suite"])
        #expect(empty.results[0].subtests.map(\.name) == ["case"])
        #expect(empty.results[0].subtests[0].subtests.isEmpty)
    }

    @Test func namesWithAndWithoutHyphenAndSkippedSuites() throws {
        let plain = try ParserFixture.ktap("kunit-strip_hyphen.ktap")
        #expect(plain.results.map(\.name) == ["sysctl_test", "example"])
        #expect(plain.results[1].subtests.map(\.name) == ["example_simple_test"])
        let skipped = try ParserFixture.ktap("kunit-skip_all_tests.ktap")
        #expect(skipped.results.map(\.directive?.kind) == [.skip, .skip])
        let reasons = skipped.results[0].subtests.map(\.directive?.reason)
        #expect(reasons == Array(repeating: "all tests skipped", count: 3))
    }

    @Test func guestAgentStreamThatRanToTheEnd() throws {
        let document = try ParserFixture.ktap("agent-fixtures-done.ktap")
        #expect(document.done)
        #expect(document.plan == 8)
        #expect(document.startedTests == document.results.map(\.name))
        #expect(document.unfinishedTests.isEmpty)
        let fail = document.results[1]
        #expect(fail.name == "fixture/fail" && !fail.ok)
        #expect(
            fail.diagnostics == [
                "error: fixture arithmetic: expected 3, got 2 (line 9)", "duration_ms: 20",
            ])
        let hang = document.results[6]
        #expect(
            hang.directive
                == .init(
                    kind: .timeout, reason: "no result after the test's bound; the agent killed it")
        )
        let close = document.results[4]
        #expect(close.name == "storage/sk/omem_uncharge_on_close")
        #expect(close.subtests.map(\.name) == ["tcp", "udp"])
        #expect(close.diagnostics.last == "duration_ms: 263")
        #expect(!close.diagnostics.contains { $0.hasPrefix("start ") })
    }

    @Test func guestAgentStreamCutByACrash() throws {
        let document = try ParserFixture.ktap("agent-crash-truncated.ktap")
        #expect(!document.done)
        #expect(document.plan == 9)
        #expect(document.results.count == 8)
        #expect(document.startedTests.count == 9)
        #expect(document.unfinishedTests == ["fixture/crash"])
    }

    @Test func crlfLineEndsParseLikeLF() throws {
        let text = try ParserFixture.text("ktap/agent-fixtures-done.ktap")
        let crlf = KTAPParser.parse(text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(crlf == KTAPParser.parse(text))
    }

    /// Result lines quoted in Documentation/dev-tools/ktap.rst, and their case variants.
    @Test(arguments: [
        (
            "ok 1 test # SKIP necessary dependency unavailable", true, "test",
            KTAPResult.Directive(kind: .skip, reason: "necessary dependency unavailable")
        ),
        (
            "ok 1 test # skip necessary dependency unavailable", true, "test",
            KTAPResult.Directive(kind: .skip, reason: "necessary dependency unavailable")
        ),
        (
            "not ok 1 test # TIMEOUT 30 seconds", false, "test",
            KTAPResult.Directive(kind: .timeout, reason: "30 seconds")
        ),
        (
            "not ok 1 test # timeout 30 seconds", false, "test",
            KTAPResult.Directive(kind: .timeout, reason: "30 seconds")
        ),
        ("not ok 1 test # TODO", false, "test", KTAPResult.Directive(kind: .todo, reason: "")),
        ("ok 1 test # XFAIL", true, "test", KTAPResult.Directive(kind: .xfail, reason: "")),
        ("not ok 1 test # ERROR", false, "test", KTAPResult.Directive(kind: .error, reason: "")),
        ("ok 1 test_case_name", true, "test_case_name", nil),
        ("not ok 1 - test_case_name", false, "test_case_name", nil),
    ])
    func directivesFromTheSpec(
        line: String, ok: Bool, name: String, directive: KTAPResult.Directive?
    ) throws {
        let result = try #require(KTAPParser.parse("KTAP version 1\n1..1\n\(line)\n").results.first)
        #expect(result.ok == ok)
        #expect(result.name == name)
        #expect(result.directive == directive)
    }

    @Test func diagnosticDataThatIsNotADirective() throws {
        let document = KTAPParser.parse("TAP version 13\n1..5\nok 5 check return code # rcode=0\n")
        let result = try #require(document.results.first)
        #expect(document.hasVersionLine)
        #expect(result.number == 5)
        #expect(result.name == "check return code")
        #expect(result.directive == nil)
        #expect(result.diagnostics == ["rcode=0"])
    }
}

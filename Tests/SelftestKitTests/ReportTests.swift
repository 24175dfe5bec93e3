import Foundation
import FoundationXML
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Realistic run reports for the report tests.
enum ReportSamples {
    static let warning = Splat(
        kind: .warning,
        title: "WARNING: CPU: 1 PID: 213 at kernel/bpf/helpers.c:2442 bpf_fixture_warn+0x15/0x20",
        lines: [
            "------------[ cut here ]------------",
            "WARNING: CPU: 1 PID: 213 at kernel/bpf/helpers.c:2442 bpf_fixture_warn+0x15/0x20",
            "Modules linked in:",
            "CPU: 1 PID: 213 Comm: selftests-guest Not tainted 6.9.0-rc1+ #1",
            "RIP: 0010:bpf_fixture_warn+0x15/0x20",
            "Call Trace:",
            " <TASK>",
            " bpf_prog_run+0x4d/0x90",
            " </TASK>",
            "---[ end trace 0000000000000000 ]---",
        ],
        test: "fixture/warn")

    static let panic = Splat(
        kind: .panic,
        title: "Kernel panic - not syncing: sysrq triggered crash",
        lines: [
            "sysrq: Trigger a crash",
            "Kernel panic - not syncing: sysrq triggered crash",
            "CPU: 0 PID: 220 Comm: selftests-guest Not tainted 6.9.0-rc1+ #1",
            "Call Trace:",
            " panic+0x340/0x360",
            " sysrq_handle_crash+0x16/0x20",
        ],
        test: "fixture/crash")

    static let bootLockdep = Splat(
        kind: .lockdep,
        title: "WARNING: possible circular locking dependency detected",
        lines: [
            "======================================================",
            "WARNING: possible circular locking dependency detected",
            "6.9.0-rc1+ #1 Not tainted",
            "------------------------------------------------------",
        ],
        test: nil)

    static let buildMessage = """
        progs/fixture_build_error.bpf.c:7:5: error: use of undeclared identifier 'not_a_helper'
            7 |     not_a_helper();
              |     ^
        1 error generated.
        """

    static var records: [TestRecord] {
        [
            TestRecord(name: "storage/sk/omem_charge_delete", outcome: .pass, duration: 0.12),
            TestRecord(name: "storage/sk/omem_uncharge_on_close", outcome: .pass, duration: 0.08),
            TestRecord(
                name: "hash/update_flags", outcome: .fail, duration: 0.3,
                subtests: [
                    TestRecord(name: "hash/update_flags/HASH", outcome: .pass, duration: 0.1),
                    TestRecord(
                        name: "hash/update_flags/LRU_HASH", outcome: .fail, duration: 0.2,
                        message: "update with BPF_NOEXIST: expected -EEXIST, got 0 (line 41)"),
                ]),
            TestRecord(
                name: "fixture/fail", outcome: .fail, duration: 0.01,
                message: "fixture arithmetic: expected 3, got 2 (line 9)",
                diagnostics: ["# a = 1, b = 1", "# computed a + b = 2"]),
            TestRecord(
                name: "fixture/skip", outcome: .skip, duration: 0.0,
                message: "needs CONFIG_BPF_LSM=y"),
            TestRecord(
                name: "fixture/hang", outcome: .timeout, duration: 3.0,
                message: "killed after 3s without a result"),
            TestRecord(
                name: "fixture/warn", outcome: .splat, duration: 0.05, splats: [warning]),
            TestRecord(
                name: "fixture/crash", outcome: .kernelCrash, duration: 0.4, splats: [panic]),
            TestRecord(name: "fixture/build_error", outcome: .buildError, message: buildMessage),
            TestRecord(
                name: "fixture/hang_guest", outcome: .infraError,
                message: "the guest stopped without a verdict (watchdog fired after 3s)"),
        ]
    }

    static var report: RunReport {
        RunReport(
            kernel: "bpf-next", kernelRelease: "6.9.0-rc1+", accelerator: .kvm,
            startedAt: "2024-05-02T10:15:30Z",
            phases: ["compile": 0.4, "image": 0.1, "boot": 3.9, "tests": 1.2, "teardown": 0.1],
            records: records, unattributedSplats: [bootLockdep],
            artifactsDirectory: ".selftests/runs/2024-05-02T10-15-30")
    }

    /// A report with only passing tests and no splats.
    static var green: RunReport {
        RunReport(
            kernel: "v6.8", accelerator: .tcg, startedAt: "2024-05-02T10:15:30Z",
            phases: ["boot": 9.5, "tests": 0.3], records: Array(records.prefix(2)))
    }
}

/// A parsed document, with the queries the report tests need.
struct ParsedXML {
    let document: XMLDocument

    init(_ text: String) throws {
        document = try XMLDocument(xmlString: text, options: [])
    }

    func elements(_ xpath: String) throws -> [XMLElement] {
        try document.nodes(forXPath: xpath).compactMap { $0 as? XMLElement }
    }

    func element(_ xpath: String) throws -> XMLElement? {
        try elements(xpath).first
    }
}

extension XMLElement {
    subscript(attribute name: String) -> String? {
        attribute(forName: name)?.stringValue
    }
}

/// The terminal lists a run's phase times in the order they happen.
@Suite(.tags(.unit)) struct RunPhaseOrderTests {
    @Test func phasesPrintInRunOrderThenOthersByName() {
        let phases = [
            "teardown": 0.1, "tests": 1.2, "boot": 3.9, "probe": 0.2, "image": 0.1,
            "compile": 0.4, "test-progs-build": 4.0, "kernel-build": 9.0, "apply": 0.5,
        ]
        #expect(
            TerminalReport.phases(phases)
                == "kernel-build 9.0s · test-progs-build 4.0s · compile 0.4s · image 0.1s"
                + " · probe 0.2s · boot 3.9s · tests 1.2s · teardown 0.1s · apply 0.5s")
    }
}

@Suite("Report: XMLWriter", .tags(.unit))
struct ReportXMLWriterTests {
    @Test func escapesMarkupCharactersInTextAndAttributes() {
        let element = XMLWriter.Element(
            "a", attributes: [("m", #"<&>"'"#)], text: #"x < y && y > "z" 'w'"#)
        #expect(
            XMLWriter.serialize(element)
                == #"<a m="&lt;&amp;&gt;&quot;&apos;">x &lt; y &amp;&amp; y &gt; "#
                + #"&quot;z&quot; &apos;w&apos;</a>"# + "\n")
    }

    @Test func dropsCharactersXMLCannotCarry() {
        let text = "a\u{1B}[31mred\u{1B}[0m\u{0}\u{7}\u{8}\u{FFFE}b\tc"
        #expect(XMLWriter.escapeText(text) == "a[31mred[0mb\tc")
        #expect(!XMLWriter.isLegal("\u{1B}"))
        #expect(XMLWriter.isLegal("\n") && XMLWriter.isLegal("\u{1F600}"))
    }

    @Test func preservesLineBreaksThroughAParser() throws {
        let root = XMLWriter.Element(
            "root", attributes: [("m", "one\ntwo\tthree")], text: "l1\r\nl2")
        let parsed = try ParsedXML(XMLWriter.document(root))
        let element = try #require(parsed.document.rootElement())
        #expect(element[attribute: "m"] == "one\ntwo\tthree")
        #expect(element.stringValue == "l1\r\nl2")
    }

    @Test func writesDeclarationNestingAndEmptyElements() {
        var child = XMLWriter.Element("child", attributes: [("b", "2"), ("a", "1")])
        child.setAttribute("b", "3")
        let root = XMLWriter.Element("root", children: [child, XMLWriter.Element("leaf")])
        #expect(
            XMLWriter.document(root) == """
                <?xml version="1.0" encoding="UTF-8"?>
                <root>
                  <child b="3" a="1"/>
                  <leaf/>
                </root>

                """)
    }
}

import Foundation

/// JUnit XML for CI test reporters (GitLab, Jenkins, GitHub actions).
///
/// One `<testsuite>` per group (the first path component of a test's name),
/// one `<testcase>` per test, or per case of a parametrised test. Failing
/// outcomes map to `<failure>` (fail, timeout, splat) or `<error>` (out of
/// memory, kernel crash, build error, infrastructure error, not run) whose
/// `type` is the outcome: a test that never ran is an error, not a skip, so
/// a run cut short never shows up green. Splats outside any test become a
/// failing `kernel/unattributed` case.
///
/// Times: a `<testcase>` has its test's own seconds (a case of a
/// parametrised test has none of its own); a `<testsuite>` the sum of its
/// tests' seconds, parents of cases included, so it covers every test it
/// holds; the root `<testsuites>` the run's wall time (`RunReport.wallSeconds`,
/// the terminal's `Time:`), which also covers the boots.
public enum JUnitReport {
    /// The document for `report`, with its XML declaration.
    public static func xml(for report: RunReport) -> String {
        var groups: [(name: String, cases: [TestCase])] = []
        func add(_ testCase: TestCase) {
            if let index = groups.firstIndex(where: { $0.name == testCase.group }) {
                groups[index].cases.append(testCase)
            } else {
                groups.append((name: testCase.group, cases: [testCase]))
            }
        }
        for record in report.records {
            cases(for: record).forEach(add)
        }
        if let unattributed = unattributedCase(report.unattributedSplats) {
            add(unattributed)
        }

        let suites = groups.map { suite(named: $0.name, cases: $0.cases, report: report) }
        var root = XMLWriter.Element("testsuites", attributes: [("name", "selftests")])
        root.setAttribute("tests", String(groups.reduce(0) { $0 + $1.cases.count }))
        for counter in ["failures", "errors", "skipped"] {
            let total = suites.reduce(0) { $0 + (Int($1.attribute(counter) ?? "") ?? 0) }
            root.setAttribute(counter, String(total))
        }
        root.setAttribute(
            "time",
            seconds(report.wallSeconds.map { [$0] } ?? groups.flatMap(\.cases).compactMap(\.share)))
        root.children = suites
        return XMLWriter.document(root)
    }

    /// One `<testcase>` before it is placed in its suite.
    struct TestCase {
        var group: String
        var name: String
        var duration: Double?
        /// The seconds this case adds to its suite's time: its test's, on
        /// the first case of a parametrised test (whose cases have none).
        var share: Double?
        /// `<failure>`, `<error>` or `<skipped>`; nil for a pass.
        var result: XMLWriter.Element?
        var output: [String]
    }

    /// The cases of `record`: itself, or one per subtest when it has any.
    ///
    /// When the parent's outcome is worse than every subtest's (say, a splat
    /// pinned on the parent between cases), the parent is reported as well, so
    /// a failing run never shows up green in CI.
    static func cases(for record: TestRecord) -> [TestCase] {
        guard let worst = record.subtests.map(\.outcome).max() else {
            return [testCase(record, fullName: record.name)]
        }
        var cases = record.subtests.map { subtest in
            let prefix = record.name + "/"
            let fullName = subtest.name.hasPrefix(prefix) ? subtest.name : prefix + subtest.name
            var testCase = testCase(subtest, fullName: fullName)
            testCase.share = nil
            return testCase
        }
        if record.outcome > worst {
            cases.append(testCase(record, fullName: record.name))
            cases[cases.count - 1].share = nil
        }
        // The test's own seconds count once, however many cases it has
        // (its cases' when it has none of its own).
        let caseSeconds = record.subtests.compactMap(\.duration)
        cases[0].share = record.duration ?? (caseSeconds.isEmpty ? nil : caseSeconds.reduce(0, +))
        return cases
    }

    static func testCase(_ record: TestRecord, fullName: String) -> TestCase {
        let parts = fullName.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let group = String(parts[0])
        let name = parts.count > 1 ? String(parts[1]) : fullName
        return TestCase(
            group: group, name: name, duration: record.duration, share: record.duration,
            result: result(for: record), output: record.diagnostics)
    }

    static func unattributedCase(_ splats: [Splat]) -> TestCase? {
        guard let first = splats.first else { return nil }
        let count = splats.count == 1 ? "1 kernel splat" : "\(splats.count) kernel splats"
        let failure = element(
            "failure", type: "splat", message: "\(count) outside any test: \(first.title)",
            body: splatText(splats))
        return TestCase(
            group: "kernel", name: "unattributed", duration: nil, share: nil, result: failure,
            output: [])
    }

    /// The element that explains a non-passing outcome.
    static func result(for record: TestRecord) -> XMLWriter.Element? {
        let message = record.message ?? ""
        let headline = firstLine(of: message)
        let details = record.diagnostics.joined(separator: "\n")
        let splats = splatText(record.splats)
        switch record.outcome {
        case .pass:
            return nil
        case .skip:
            let attributes = headline.map { [("message", $0)] } ?? []
            return XMLWriter.Element("skipped", attributes: attributes)
        case .notRun:
            return element(
                "error", type: "not-run", message: headline ?? "the test did not run",
                body: message)
        case .fail:
            return element(
                "failure", type: "fail", message: headline ?? "test failed",
                body: message, details, splats)
        case .timeout:
            return element(
                "failure", type: "timeout", message: headline ?? "test timed out",
                body: message, details, splats)
        case .splat:
            let title = record.splats.first?.title ?? headline ?? "kernel splat"
            return element(
                "failure", type: "splat", message: title, body: splats, message, details)
        case .outOfMemory:
            return element(
                "error", type: "out-of-memory", message: headline ?? "the guest ran out of memory",
                body: message, splats, details)
        case .kernelCrash:
            let crashes = record.splats.filter(\.kind.isCrash)
            let others = record.splats.filter { !$0.kind.isCrash }
            let title = crashes.first?.title ?? headline ?? "kernel crashed"
            return element(
                "error", type: "kernel-crash", message: title,
                body: splatText(crashes + others), message, details)
        case .buildError:
            return element(
                "error", type: "build-error", message: headline ?? "build failed",
                body: message, details)
        case .infraError:
            return element(
                "error", type: "infra-error", message: headline ?? "no verdict from the guest",
                body: message, details, splats)
        }
    }

    static func element(
        _ name: String, type: String, message: String, body sections: String...
    ) -> XMLWriter.Element {
        let body = sections.filter { !$0.isEmpty }.joined(separator: "\n\n")
        return XMLWriter.Element(
            name, attributes: [("message", message), ("type", type)],
            text: body.isEmpty ? nil : body)
    }

    static func suite(named name: String, cases: [TestCase], report: RunReport)
        -> XMLWriter.Element
    {
        var properties = [("kernel", report.kernel)]
        if let release = report.kernelRelease {
            properties.append(("kernelRelease", release))
        }
        properties.append(("accelerator", report.accelerator.description))
        return suite(
            named: name, cases: cases, properties: properties, timestamp: report.startedAt)
    }

    /// A `<testsuite>` of `cases` with its counts, time and properties.
    static func suite(
        named name: String, cases: [TestCase], properties: [(String, String)],
        timestamp: String?
    ) -> XMLWriter.Element {
        func count(_ element: String) -> Int {
            cases.filter { $0.result?.name == element }.count
        }
        return XMLWriter.Element(
            "testsuite",
            attributes: [
                ("name", name), ("tests", String(cases.count)),
                ("failures", String(count("failure"))), ("errors", String(count("error"))),
                ("skipped", String(count("skipped"))),
                ("time", seconds(cases.compactMap(\.share))),
            ] + (timestamp.map { [("timestamp", $0)] } ?? []),
            children: [propertiesElement(properties)] + cases.map(caseElement))
    }

    /// `<properties>` with one `<property name= value=>` per pair.
    static func propertiesElement(_ pairs: [(String, String)]) -> XMLWriter.Element {
        XMLWriter.Element(
            "properties",
            children: pairs.map {
                XMLWriter.Element("property", attributes: [("name", $0.0), ("value", $0.1)])
            })
    }

    static func caseElement(_ testCase: TestCase) -> XMLWriter.Element {
        var element = XMLWriter.Element(
            "testcase",
            attributes: [("classname", "selftests." + testCase.group), ("name", testCase.name)])
        if let duration = testCase.duration {
            element.setAttribute("time", seconds([duration]))
        }
        if let result = testCase.result {
            element.children.append(result)
        }
        if !testCase.output.isEmpty {
            let text = testCase.output.joined(separator: "\n")
            element.children.append(XMLWriter.Element("system-out", text: text))
        }
        return element
    }

    /// Every splat's lines (its title when it kept none), a blank line apart.
    static func splatText(_ splats: [Splat]) -> String {
        splats.map { $0.lines.isEmpty ? $0.title : $0.lines.joined(separator: "\n") }
            .joined(separator: "\n\n")
    }

    static func firstLine(of text: String) -> String? {
        let line = text.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) }
        return line.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A sum of durations in seconds with millisecond precision.
    static func seconds(_ durations: [Double]) -> String {
        let total = durations.filter(\.isFinite).reduce(0) { $0 + max(0, $1) }
        return String(format: "%.3f", total)
    }
}

import Foundation

extension JUnitReport {
    /// A series as JUnit: one `<testsuite>` per step (`2/4 bpf: ...`), its
    /// cases as in a run's report. A test that passed on a re-run is a pass
    /// with a `<flakyFailure>` (Surefire's element; readers that do not know
    /// it see the pass). A step that did not build is one `kernel/build`
    /// error; a patch that did not apply, one `kernel/apply` error.
    public static func xml(for series: SeriesReport) -> String {
        var suites: [XMLWriter.Element] = []
        for step in series.steps {
            let name =
                "\(step.position)/\(series.total) " + (step.position == 0 ? "base: " : "")
                + step.subject
            var cases: [TestCase] = []
            if let run = step.run {
                let flaky = Set(step.verdicts.filter { $0.change == .flaky }.map(\.test))
                cases = run.records.flatMap(Self.cases(for:)).map { testCase in
                    var testCase = testCase
                    if flaky.contains(testCase.group + "/" + testCase.name),
                        var result = testCase.result
                    {
                        result.name = "flakyFailure"
                        testCase.result = result
                    }
                    return testCase
                }
                if let unattributed = unattributedCase(run.unattributedSplats) {
                    cases.append(unattributed)
                }
            } else if !step.build.built {
                let error = element(
                    "error", type: "build-error",
                    message: firstLine(of: step.build.error ?? "") ?? "the kernel did not build",
                    body: step.build.error ?? "")
                cases = [
                    TestCase(
                        group: "kernel", name: "build", duration: step.build.seconds,
                        share: step.build.seconds, result: error, output: [])
                ]
            }
            var properties = [("position", String(step.position)), ("commit", step.commit)]
            if let carried = step.carriedFrom {
                properties.append(("carriedFrom", String(carried)))
            }
            if let reuse = step.reused {
                properties.append(("reusedFromRun", String(reuse.run)))
                properties.append(("reusedRunStartedAt", reuse.startedAt))
            }
            if let digest = step.kernel?.imageDigest { properties.append(("imageDigest", digest)) }
            suites.append(stepSuite(name, cases: cases, properties: properties, run: step.run))
        }
        if let missing = series.notApplied {
            let error = element(
                "error", type: "apply-error",
                message: "patch \(missing.position) does not apply", body: missing.message)
            suites.append(
                stepSuite(
                    "\(missing.position)/\(series.total) \(missing.subject)",
                    cases: [
                        TestCase(
                            group: "kernel", name: "apply", duration: nil, share: nil,
                            result: error, output: [])
                    ], properties: [("position", String(missing.position))], run: nil))
        }
        var root = XMLWriter.Element("testsuites", attributes: [("name", "selftests series")])
        for counter in ["tests", "failures", "errors", "skipped"] {
            let total = suites.reduce(0) { $0 + (Int($1.attribute(counter) ?? "") ?? 0) }
            root.setAttribute(counter, String(total))
        }
        root.children = suites
        return XMLWriter.document(root)
    }

    static func stepSuite(
        _ name: String, cases: [TestCase], properties: [(String, String)], run: RunReport?
    ) -> XMLWriter.Element {
        var all = properties
        if let run {
            all.append(("kernel", run.kernel))
            all.append(("accelerator", run.accelerator.description))
        }
        return suite(named: name, cases: cases, properties: all, timestamp: run?.startedAt)
    }
}

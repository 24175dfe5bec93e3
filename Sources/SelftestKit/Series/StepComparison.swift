import Foundation

/// How one step's results compare with the step before: which tests need a
/// re-run, and what each test's verdict is once the re-runs are in. Pure, so
/// every rule is tested on scripted runs.
public enum StepComparison {
    /// The name that carries splats no test's markers enclose.
    public static let unattributed = "kernel/unattributed"

    /// One test or case of a run with its outcome and evidence.
    public struct Leaf: Sendable, Equatable {
        public var name: String
        public var outcome: Outcome
        public var evidence: [String]
    }

    /// Every test of `report`, one per case for a parametrised test (its
    /// parent too when the parent is worse than every case: a splat between
    /// cases), and `kernel/unattributed` for splats outside any test.
    public static func leaves(_ report: RunReport) -> [Leaf] {
        var leaves: [Leaf] = []
        for record in report.records {
            let worst = record.subtests.map(\.outcome).max()
            for subtest in record.subtests {
                let prefix = record.name + "/"
                let name = subtest.name.hasPrefix(prefix) ? subtest.name : prefix + subtest.name
                leaves.append(leaf(name, subtest))
            }
            if worst == nil || record.outcome > worst! {
                leaves.append(leaf(record.name, record))
            }
        }
        let splats = report.unattributedSplats
        leaves.append(
            Leaf(
                name: unattributed, outcome: splats.isEmpty ? .pass : .splat,
                evidence: splats.flatMap { [$0.title] + $0.lines.prefix(6) }))
        return leaves
    }

    static func leaf(_ name: String, _ record: TestRecord) -> Leaf {
        Leaf(name: name, outcome: record.outcome, evidence: TerminalReport.evidence(for: record))
    }

    /// The outcome `name` had in `reference`; a test that was split into
    /// cases (or not) on the other side is matched through its parent.
    static func lookup(_ name: String, in reference: [String: Outcome]) -> Outcome? {
        if let outcome = reference[name] { return outcome }
        let prefix = name + "/"
        let cases = reference.filter { $0.key.hasPrefix(prefix) }.map(\.value)
        if let worst = cases.max() { return worst }
        var parent = name
        while let slash = parent.lastIndex(of: "/") {
            parent = String(parent[..<slash])
            if let outcome = reference[parent] { return outcome }
        }
        return nil
    }

    /// The tests worth a re-run: they did not pass now, and passed (or did
    /// not exist) at the reference. With no reference (the base, or no step
    /// built before), every test that did not pass.
    public static func suspects(_ leaves: [Leaf], reference: [String: Outcome]?) -> [String] {
        leaves.filter { leaf in
            guard !leaf.outcome.isSuccess else { return false }
            guard let reference, let before = lookup(leaf.name, in: reference) else { return true }
            return before.isSuccess
        }.map(\.name)
    }

    /// The tests to boot again so that `suspects` run again: each suspect's
    /// parent test, or all of `tests` for a splat outside any test. Under
    /// `test_progs` (the tree's own suite, one name in `tests`) the parent is
    /// the test_progs test, `test_progs/<test>`, not the whole suite.
    public static func rerunNames(for suspects: [String], among tests: [String]) -> [String] {
        if suspects.contains(unattributed) { return tests }
        return tests.flatMap { test -> [String] in
            let hits = suspects.filter { $0 == test || $0.hasPrefix(test + "/") }
            if hits.isEmpty { return [] }
            guard test == TestProgsOutput.suite else { return [test] }
            let parents = hits.map { $0.split(separator: "/").prefix(2).joined(separator: "/") }
            return Array(Set(parents)).sorted()
        }
    }

    /// The verdicts of one step: the first run's leaves, each suspect's
    /// re-run outcomes, and the change against the reference.
    public static func verdicts(
        first: [Leaf], retries: [[Leaf]], reference: [String: Outcome]?
    ) -> [StepVerdict] {
        first.map { leaf in
            var verdict = StepVerdict(
                test: leaf.name, outcome: leaf.outcome, evidence: leaf.evidence)
            guard !leaf.outcome.isSuccess || reference != nil else { return verdict }
            let before = reference.flatMap { lookup(leaf.name, in: $0) }
            if leaf.outcome.isSuccess {
                if let before, !before.isSuccess { verdict.change = .fixed }
                verdict.evidence = []
                return verdict
            }
            // Re-runs stop for a test once it passes.
            for run in retries {
                guard let again = run.first(where: { $0.name == leaf.name }) else { continue }
                verdict.retries.append(again.outcome)
                if again.outcome.isSuccess { break }
            }
            if verdict.retries.contains(where: \.isSuccess) {
                verdict.change = .flaky
            } else if reference != nil, before?.isSuccess ?? true {
                verdict.change = .regression
            }
            return verdict
        }
    }

    /// What the next step compares with: each test's effective outcome.
    public static func reference(_ verdicts: [StepVerdict]) -> [String: Outcome] {
        Dictionary(verdicts.map { ($0.test, $0.effective) }, uniquingKeysWith: { a, _ in a })
    }
}

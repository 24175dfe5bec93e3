import Foundation

/// A series or a bisect as KCIDB I/O data: a checkout per commit tested, a
/// build per kernel built there (a failed one with the compiler's error), a
/// test per record of every run and re-run on it. KernelCI's database then
/// holds what BPF CI's tip-only testing cannot: each patch's own results.
extension KCIDBReport {
    /// The KCIDB JSON for every step of `series`, UTF-8.
    public static func data(for series: SeriesReport) throws -> Data {
        try DocumentJSON.data(document(for: series))
    }

    /// The KCIDB JSON for every commit `bisect` built and tested, UTF-8.
    public static func data(for bisect: BisectReport) throws -> Data {
        try DocumentJSON.data(document(for: bisect))
    }

    static func document(for series: SeriesReport) -> Document {
        var document = Document(checkouts: [], builds: [], tests: [])
        let run = URL(fileURLWithPath: series.artifactsDirectory).lastPathComponent
        for step in series.steps {
            document.add(
                step, tree: series.tree, id: "\(run):step-\(step.position)",
                startedAt: series.startedAt,
                misc: [
                    "series": .string(series.title),
                    "patch": .string("\(step.position)/\(series.total)"),
                ])
        }
        return document
    }

    static func document(for bisect: BisectReport) -> Document {
        var document = Document(checkouts: [], builds: [], tests: [])
        let run = URL(fileURLWithPath: bisect.artifactsDirectory).lastPathComponent
        for (index, entry) in bisect.steps.enumerated() {
            document.add(
                entry.step, tree: bisect.tree, id: "\(run):\(index)-\(safe(entry.label))",
                startedAt: entry.step.run?.startedAt ?? "",
                misc: [
                    "bisect": .string(entry.label), "mark": .string(entry.mark.rawValue),
                    "reason": .string(entry.reason),
                ])
        }
        return document
    }
}

extension KCIDBReport.Document {
    typealias Object = KCIDBReport.Object
    typealias Value = KCIDBReport.Value

    /// One step: its commit's checkout (once, however often it was tested),
    /// its build, and the tests of its first run and re-runs. A step whose
    /// kernel is byte-identical to an earlier one's carries that step's runs;
    /// its tests say where they came from.
    mutating func add(
        _ step: SeriesStep, tree: String, id: String, startedAt: String, misc: [String: Value]
    ) {
        let origin = KCIDBReport.origin
        let checkoutID = "\(origin):\(step.commit)"
        if !checkouts.contains(where: { $0["id"].map(Self.text) == checkoutID }) {
            var checkout: Object = [
                "id": .string(checkoutID), "origin": .string(origin), "valid": .bool(true),
                "tree_name": .string(KCIDBReport.safe(tree)), "comment": .string(step.subject),
            ]
            if !startedAt.isEmpty { checkout["start_time"] = .string(startedAt) }
            if let commit = KCIDBReport.isCommit(step.commit) {
                checkout["git_commit_hash"] = .string(commit)
            }
            if let messageId = step.messageId { checkout["message_id"] = .string(messageId) }
            checkouts.append(checkout)
        }
        let buildID = "\(checkoutID):\(KCIDBReport.safe(id))"
        var build: Object = [
            "id": .string(buildID), "checkout_id": .string(checkoutID), "origin": .string(origin),
            "architecture": .string("x86_64"),
            "status": .string(step.build.built ? "PASS" : "FAIL"),
            "duration": .number(step.build.seconds),
        ]
        if !startedAt.isEmpty { build["start_time"] = .string(startedAt) }
        let failure = [step.build.error, step.build.log.map { "build log: \($0)" }]
            .compactMap { $0 }.joined(separator: "\n")
        if !step.build.built, !failure.isEmpty {
            build["log_excerpt"] = .string(KCIDBReport.excerpt(failure))
        }
        if let reason = step.build.skipped { build["comment"] = .string("not rebuilt: \(reason)") }
        let kernel = step.kernel
        build["misc"] = .object(
            misc.merging(
                KCIDBReport.kernelMisc(
                    kernel: kernel?.path ?? step.commit, release: kernel?.release, identity: kernel)
            ) { $1 })
        builds.append(build)
        guard step.build.built else { return }
        var testMisc = misc
        if let from = step.carriedFrom { testMisc["carried_from"] = .number(Double(from)) }
        if let reuse = step.reused { testMisc["reused_from_run"] = .number(Double(reuse.run)) }
        if let run = step.run {
            tests += KCIDBReport.tests(of: run, id: id, buildID: buildID, misc: testMisc)
        }
        for (index, retry) in step.retryRuns.enumerated() {
            testMisc["retry"] = .number(Double(index + 1))
            tests += KCIDBReport.tests(
                of: retry, id: "\(id):retry-\(index + 1)", buildID: buildID, misc: testMisc)
        }
    }

    private static func text(_ value: Value) -> String? {
        if case .string(let text) = value { text } else { nil }
    }
}

import Foundation

/// Joins the `--json` reports of a sharded run (`--shard 1/N` … `N/N`) into
/// the report one runner would have written: every test of the selection
/// once, in order. Shards that do not belong together are refused, naming
/// the file: another kernel, another selection, a share twice or missing.
public enum ReportMerge {
    /// One shard's report and the file it came from (for the messages).
    public typealias Input = (path: String, report: RunReport)

    public static func merge(_ inputs: [Input]) throws -> RunReport {
        guard let first = inputs.first else {
            throw SelftestError(
                .usage, .reports, "nothing to merge",
                fix: "name the --json reports of the shards: selftests merge 1.json 2.json …")
        }
        let shards = try inputs.map { input -> ShardRecord in
            guard let shard = input.report.shard else {
                throw SelftestError(
                    .usage, .reports, "\(input.path) is not the report of a --shard run",
                    input: input.path,
                    fix: "merge the --json files of runs made with --shard K/N")
            }
            return shard
        }
        let expected = shards[0]
        for (input, shard) in zip(inputs, shards).dropFirst() {
            if shard.shard.count != expected.shard.count || shard.selection != expected.selection {
                throw SelftestError(
                    .usage, .reports,
                    "\(input.path) is a share of another test set than \(first.path)"
                        + " (--shard …/\(shard.shard.count) of \(shard.selection.count) tests, "
                        + "against …/\(expected.shard.count) of \(expected.selection.count))",
                    input: input.path,
                    fix: "merge the shards of one run: the same --filter and the same N")
            }
            if shard.durationsDigest != expected.durationsDigest {
                throw SelftestError(
                    .usage, .reports,
                    "\(input.path) split the selection by other durations than \(first.path) "
                        + "(\(Self.balance(shard)) against \(Self.balance(expected))): "
                        + "the shares may overlap or leave tests out",
                    input: input.path,
                    fix: "give every runner the same --durations FILE (or none), and run again")
            }
            if let reason = differentKernel(input.report, first.report) {
                throw SelftestError(
                    .usage, .reports,
                    "\(input.path) tested another kernel than \(first.path): \(reason)",
                    input: input.path, fix: "merge the shards that tested the same kernel")
            }
        }
        let indices = shards.map(\.shard.index)
        let twice = Set(indices.filter { index in indices.filter { $0 == index }.count > 1 })
        if let index = twice.min() {
            let paths = zip(inputs, indices).filter { $0.1 == index }.map(\.0.path)
            throw SelftestError(
                .usage, .reports,
                "shard \(index)/\(expected.shard.count) is given twice: "
                    + paths.joined(separator: ", "),
                input: paths.last, fix: "give each shard's report once")
        }
        let missing = (1...expected.shard.count).filter { !indices.contains($0) }
        if !missing.isEmpty {
            throw SelftestError(
                .usage, .reports,
                "shard \(missing.map { "\($0)/\(expected.shard.count)" }.joined(separator: ", ")) "
                    + "is missing: the merged report would lack its tests",
                input: inputs.map(\.path).joined(separator: " "),
                fix: "add the missing shard's --json report")
        }
        return joined(inputs.map(\.report), selection: expected.selection)
    }

    /// How a shard was balanced, for a refusal: by count, or which durations.
    static func balance(_ record: ShardRecord) -> String {
        record.durationsDigest.map { "durations \($0.prefix(12))" } ?? "by count"
    }

    /// Why two reports are not of the same kernel, or nil when they are.
    static func differentKernel(_ a: RunReport, _ b: RunReport) -> String? {
        if let x = a.kernelIdentity?.imageDigest, let y = b.kernelIdentity?.imageDigest {
            return x == y ? nil : "image \(x.prefix(12)) against \(y.prefix(12))"
        }
        if a.kernelRelease != b.kernelRelease {
            return "\(a.kernelRelease ?? "?") against \(b.kernelRelease ?? "?")"
        }
        return a.kernel == b.kernel ? nil : "\(a.kernel) against \(b.kernel)"
    }

    private static func joined(_ reports: [RunReport], selection: [String]) -> RunReport {
        let first = reports[0]
        let order = Dictionary(
            selection.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var merged = RunReport(
            kernel: first.kernel, kernelRelease: first.kernelRelease,
            accelerator: .union(reports.map(\.accelerator)),
            startedAt: reports.map(\.startedAt).min() ?? first.startedAt)
        merged.kernelIdentity = first.kernelIdentity
        merged.records = reports.flatMap(\.records).sorted {
            (order[$0.name] ?? Int.max) < (order[$1.name] ?? Int.max)
        }
        merged.unattributedSplats = reports.flatMap(\.unattributedSplats)
        // The shards ran side by side: each phase took as long as its slowest.
        for report in reports {
            merged.phases.merge(report.phases) { max($0, $1) }
        }
        let interrupted = reports.compactMap(\.interruption)
        merged.interruption = interrupted.isEmpty ? nil : interrupted.joined(separator: ", ")
        return merged
    }
}

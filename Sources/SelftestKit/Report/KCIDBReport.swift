import Foundation

/// A run as KernelCI's KCIDB I/O data (schema 5.3, the newest `kcidb-io`
/// validates): a checkout for the kernel's source (its commit, or the image
/// for a prebuilt kernel), a build for the kernel, and a test per record and
/// per subtest. This is how a team's results reach KernelCI's database, the
/// field's shared store of kernel test results.
public enum KCIDBReport {
    /// The CI system's name, the prefix of every id (`[a-z0-9_]+`).
    public static let origin = "selftests"
    /// Longest `log_excerpt` the schema takes.
    static let excerptLimit = 16384

    struct Document: Encodable {
        var version = Version()
        var checkouts: [Object]
        var builds: [Object]
        var tests: [Object]
    }

    struct Version: Encodable {
        var major = 5
        var minor = 3
    }

    /// One KCIDB object: its properties, only those known (the schema takes
    /// no null).
    typealias Object = [String: Value]

    enum Value: Encodable {
        case string(String), number(Double), bool(Bool), object([String: Value])

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .bool(let flag): try container.encode(flag)
            case .object(let object): try container.encode(object)
            }
        }
    }

    /// The KCIDB JSON for `report`, UTF-8.
    public static func data(for report: RunReport) throws -> Data {
        try DocumentJSON.data(document(for: report))
    }

    static func document(for report: RunReport) -> Document {
        let identity = report.kernelIdentity
        let source =
            identity?.commit.flatMap(isCommit) ?? identity?.imageDigest.map {
                "image-\($0.prefix(16))"
            }
            ?? "kernel-" + safe(report.kernelRelease ?? report.kernel)
        let checkoutID = "\(origin):\(source)"
        let buildID =
            "\(checkoutID):"
            + (identity?.configHash ?? identity?.imageDigest ?? "prebuilt")
            .prefix(16)
        var checkout: Object = [
            "id": .string(checkoutID), "origin": .string(origin), "valid": .bool(true),
            "start_time": .string(report.startedAt),
        ]
        if let commit = identity?.commit.flatMap(isCommit) {
            checkout["git_commit_hash"] = .string(commit)
        }
        if let tree = identity?.tree { checkout["tree_name"] = .string(safe(tree)) }
        // A kernel that did not build has no image: its build failed, and
        // every record carries the compiler's error.
        let built = !(identity?.tree != nil && identity?.imageDigest == nil)
        var build: Object = [
            "id": .string(buildID), "checkout_id": .string(checkoutID), "origin": .string(origin),
            "architecture": .string("x86_64"), "start_time": .string(report.startedAt),
            "status": .string(built ? "PASS" : "FAIL"),
        ]
        if let seconds = report.phases["kernel-build"] { build["duration"] = .number(seconds) }
        if !built, let message = report.records.first?.message {
            build["log_excerpt"] = .string(excerpt(message))
        }
        build["misc"] = .object(
            kernelMisc(kernel: report.kernel, release: report.kernelRelease, identity: identity))
        let run =
            report.artifactsDirectory.map { URL(fileURLWithPath: $0).lastPathComponent }
            ?? report.startedAt
        let tests = built ? self.tests(of: report, id: run, buildID: buildID) : []
        return Document(checkouts: [checkout], builds: [build], tests: tests)
    }

    /// What identifies the kernel a build made: its path, release, image
    /// and config digests (KCIDB has no fields of its own for them).
    static func kernelMisc(kernel: String, release: String?, identity: KernelIdentity?)
        -> [String: Value]
    {
        var misc: [String: Value] = ["kernel": .string(kernel)]
        if let release { misc["release"] = .string(release) }
        if let digest = identity?.imageDigest { misc["image_sha256"] = .string(digest) }
        if let config = identity?.configHash { misc["config_sha256"] = .string(config) }
        return misc
    }

    /// A test object per record and per subtest of `report`, under
    /// `buildID`; `id` makes their ids unique (the run, or the step and try).
    static func tests(
        of report: RunReport, id: String, buildID: String, misc: [String: Value] = [:]
    ) -> [Object] {
        let environment: Value = .object([
            "comment": .string(
                "QEMU (\(report.accelerator)), kernel \(report.kernelRelease ?? report.kernel)")
        ])
        return report.records.flatMap(flattened).map { path, entry in
            var test: Object = [
                "id": .string("\(origin):\(id):\(path)"), "build_id": .string(buildID),
                "origin": .string(origin), "path": .string(path),
                "status": .string(status(entry.outcome)),
                "start_time": .string(report.startedAt), "environment": environment,
                "misc": .object(misc.merging(["outcome": .string(entry.outcome.rawValue)]) { $1 }),
            ]
            if let duration = entry.duration, duration.isFinite {
                test["duration"] = .number(duration)
            }
            let log = evidence(entry)
            if !log.isEmpty { test["log_excerpt"] = .string(excerpt(log)) }
            return test
        }
    }

    /// KCIDB's statuses, in its words: FAIL the tested code is faulty, ERROR
    /// the test did not complete, MISS the harness did not run it, SKIP not
    /// applicable. A kernel that complained (splat, crash) failed; a test
    /// that hung, ran out of the guest's memory or did not build did not
    /// complete; one the runner could not run or judge was missed.
    static func status(_ outcome: Outcome) -> String {
        switch outcome {
        case .pass: "PASS"
        case .skip: "SKIP"
        case .fail, .splat, .kernelCrash: "FAIL"
        case .timeout, .outOfMemory, .buildError: "ERROR"
        case .notRun, .infraError: "MISS"
        }
    }

    /// `storage/sk/omem_charge_delete` → `bpf.storage.sk.omem_charge_delete`:
    /// dots between parts, and whatever else the schema's path takes not
    /// (`[a-zA-Z0-9_-]`) as `_`.
    static func path(_ name: String) -> String {
        (["bpf"] + name.split(separator: "/").map { safe(String($0)) }).joined(separator: ".")
    }

    static func flattened(_ record: TestRecord) -> [(String, TestRecord)] {
        let head = path(record.name)
        return [(head, record)]
            + record.subtests.map { sub in
                let leaf =
                    sub.name.hasPrefix(record.name + "/")
                    ? String(sub.name.dropFirst(record.name.count + 1)) : sub.name
                return (
                    head + "."
                        + leaf.split(separator: "/").map { safe(String($0)) }
                        .joined(separator: "."), sub
                )
            }
    }

    private static func evidence(_ record: TestRecord) -> String {
        let lines =
            (record.message.map { [$0] } ?? []) + record.diagnostics
            + record.splats.flatMap(\.lines)
        return lines.joined(separator: "\n")
    }

    static func excerpt(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\0", with: "")
        return clean.count <= excerptLimit ? clean : String(clean.suffix(excerptLimit))
    }

    static func safe(_ text: String) -> String {
        String(
            text.unicodeScalars.map {
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" || $0 == "-"
                    ? Character($0) : "_"
            })
    }

    static func isCommit(_ text: String) -> String? {
        text.count == 40 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase } ? text : nil
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `--kcidb`: the run as KernelCI's KCIDB I/O data, checked by KernelCI's
/// own validator (`kcidb-io` from PyPI, which scripts/setup.sh installs in a
/// virtual environment under the cache).
extension NeedsTools {
    @Suite(.tags(.needsTools)) struct KCIDBTests {
        /// The validator's Python; setup.sh puts it there, so it is never skipped.
        static var python: String {
            Cache.defaultRoot().appendingPathComponent("venv/bin/python").path
        }

        /// kcidb-io's verdict on `data`: nil when valid, else its complaint.
        static func validate(_ data: Data) throws -> String? {
            let check = """
                import json, sys, kcidb_io
                data = json.load(sys.stdin)
                schema = kcidb_io.schema.LATEST
                if (data["version"]["major"], data["version"]["minor"]) != (schema.major, schema.minor):
                    sys.exit(f"version {data['version']} is not the latest, {schema.major}.{schema.minor}")
                schema.validate_exactly(data)
                """
            let result = try SystemRunner().run(
                Command(python, ["-c", check]), stdin: data, timeout: 120)
            return result.succeeded ? nil : result.stderrText.suffix(600).description
        }

        /// A run with every outcome, subtests, splats and unattributed splats,
        /// on a tree-built kernel.
        static var report: RunReport {
            var report = ReportSamples.report
            report.records += [
                TestRecord(
                    name: "storage/sk/user_update_flags", outcome: .notRun, message: "bound"),
                TestRecord(name: "memory/large/storage", outcome: .outOfMemory, message: "oom"),
                TestRecord(
                    name: "test_progs/sk_storage_omem_uncharge", outcome: .fail,
                    subtests: [
                        TestRecord(
                            name: "test_progs/sk_storage_omem_uncharge/map:omem (v6)",
                            outcome: .fail,
                            message: "omem unexpected omem: actual 0 != expected 1")
                    ]),
            ]
            report.kernelIdentity = KernelIdentity(
                path: "/cache/kbuild/bzImage", release: "6.12.117",
                imageDigest: String(
                    repeating: "ab", count: 32), tree: "/src/linux",
                commit: String(
                    repeating: "0123456789", count: 4), dirty: false,
                configHash: String(
                    repeating: "cd", count: 32))
            return report
        }

        func decode(_ data: Data) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        @Test func aRunIsValidKCIDBWithATestPerRecordAndSubtest() throws {
            let data = try KCIDBReport.data(for: Self.report)
            #expect(try Self.validate(data) == nil)
            let document = try decode(data)
            let tests = try #require(document["tests"] as? [[String: Any]])
            let records = Self.report.records
            #expect(tests.count == records.count + records.map(\.subtests.count).reduce(0, +))
            let byPath = Dictionary(
                uniqueKeysWithValues: tests.map { ($0["path"] as? String ?? "", $0) })
            let omem = try #require(byPath["bpf.storage.sk.omem_charge_delete"])
            #expect(omem["status"] as? String == "PASS")
            let sub = try #require(byPath["bpf.test_progs.sk_storage_omem_uncharge.map_omem__v6_"])
            #expect(sub["status"] as? String == "FAIL")
            #expect((sub["log_excerpt"] as? String)?.contains("actual 0 != expected 1") == true)
            let warn = try #require(byPath["bpf.fixture.warn"])
            #expect((warn["log_excerpt"] as? String)?.contains("bpf_fixture_warn") == true)
            let checkouts = try #require(document["checkouts"] as? [[String: Any]])
            #expect(
                checkouts.first?["git_commit_hash"] as? String
                    == String(
                        repeating: "0123456789", count: 4))
            let builds = try #require(document["builds"] as? [[String: Any]])
            #expect(builds.first?["status"] as? String == "PASS")
            #expect(
                Set(tests.compactMap { $0["build_id"] as? String }) == [builds[0]["id"] as? String])
        }

        /// A tree that did not build: a FAIL build with the compiler's words,
        /// no test runs on it; a prebuilt kernel: a checkout of its image.
        @Test func aKernelThatDidNotBuildIsAFailedBuildAndAPrebuiltOneHasNoCommit() throws {
            var failed = RunReport(
                kernel: "/src/linux", accelerator: .noGuest, startedAt: "2026-12-02T10:00:00Z",
                records: [
                    TestRecord(name: "storage/sk/x", outcome: .buildError, message: "error: x")
                ])
            failed.kernelIdentity = KernelIdentity(path: "/src/linux", tree: "/src/linux")
            let data = try KCIDBReport.data(for: failed)
            #expect(try Self.validate(data) == nil)
            let document = try decode(data)
            let build = try #require((document["builds"] as? [[String: Any]])?.first)
            #expect(build["status"] as? String == "FAIL")
            #expect(build["log_excerpt"] as? String == "error: x")
            #expect((document["tests"] as? [Any])?.isEmpty == true)

            let prebuilt = try KCIDBReport.data(for: ReportSamples.green)
            #expect(try Self.validate(prebuilt) == nil)
            let checkout = try #require(
                (try decode(prebuilt)["checkouts"] as? [[String: Any]])?.first)
            #expect(checkout["git_commit_hash"] == nil)
        }

        /// The validator is no rubber stamp: a status KCIDB does not know, and
        /// an id without the origin, are refused.
        @Test func theValidatorRefusesABadStatus() throws {
            var document = try decode(try KCIDBReport.data(for: ReportSamples.green))
            var tests = try #require(document["tests"] as? [[String: Any]])
            tests[0]["status"] = "BROKEN"
            document["tests"] = tests
            let bad = try JSONSerialization.data(withJSONObject: document)
            #expect(try Self.validate(bad)?.contains("BROKEN") == true)
            tests[0]["status"] = "PASS"
            tests[0]["id"] = "no-origin"
            document["tests"] = tests
            #expect(try Self.validate(try JSONSerialization.data(withJSONObject: document)) != nil)
        }
    }
}

@Suite(.tags(.unit)) struct KCIDBStatusTests {
    /// Each outcome maps to the KCIDB status that says the same thing.
    @Test func outcomesMapToKCIDBStatuses() throws {
        let expected: [Outcome: String] = [
            .pass: "PASS", .skip: "SKIP", .fail: "FAIL", .splat: "FAIL", .kernelCrash: "FAIL",
            .timeout: "ERROR", .outOfMemory: "ERROR", .buildError: "ERROR", .notRun: "MISS",
            .infraError: "MISS",
        ]
        for outcome in Outcome.allCases {
            #expect(KCIDBReport.status(outcome) == expected[outcome], "\(outcome)")
        }
    }
}

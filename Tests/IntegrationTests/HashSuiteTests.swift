import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension VirtualMachineSuites {
    /// The hash map suite on the default kernel: every test passes, and
    /// each reports one case per map variant.
    @Suite(.tags(.vm)) struct HashSuiteTests {
        /// The cases each test must report, by test name.
        static let cases: [String: [String]] = {
            let all = [
                "HASH", "PERCPU_HASH", "LRU_HASH", "LRU_PERCPU_HASH", "HASH_NO_PREALLOC",
                "PERCPU_HASH_NO_PREALLOC",
            ]
            let perCPU = [
                "PERCPU_HASH", "PERCPU_HASH_NO_PREALLOC", "LRU_PERCPU_HASH",
                "LRU_PERCPU_HASH_NO_COMMON_LRU",
            ]
            return [
                "hash/update_flags": all, "hash/lookup_delete": all, "hash/update_atomic": all,
                "hash/full_refuses": [
                    "HASH", "PERCPU_HASH", "HASH_NO_PREALLOC", "PERCPU_HASH_NO_PREALLOC",
                ],
                "hash/lru_evicts": [
                    "LRU_HASH", "LRU_PERCPU_HASH", "LRU_HASH_NO_COMMON_LRU",
                    "LRU_PERCPU_HASH_NO_COMMON_LRU",
                ],
                "hash/percpu_slots": perCPU, "hash/percpu_lookup_elem": perCPU,
                "hash/atomic_add": all,
                "hash/spin_lock": [
                    "HASH", "HASH_NO_PREALLOC", "PERCPU_HASH_refused", "LRU_HASH_refused",
                    "LRU_PERCPU_HASH_refused",
                ],
                "hash/get_next_key": all, "hash/batch_ops": all,
            ]
        }()

        @Test func everyHashTestPassesWithOneCasePerVariant() throws {
            var options = RunOptions()
            options.filter = "hash/*"
            let report = try RunPipeline(options: options, observer: RunRecorder()).run()
            let artifacts = try #require(report.artifactsDirectory)
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")

            let expected = Catalog.all.filter { $0.group == "hash" }.map(\.name)
            #expect(report.records.map(\.name) == expected)
            #expect(Set(expected) == Set(Self.cases.keys), "a hash test without listed cases")
            for record in report.records {
                #expect(record.outcome == .pass, "\(record.name): \(record.message ?? "")")
                let names = record.subtests.map { String($0.name.dropFirst(record.name.count + 1)) }
                #expect(names == Self.cases[record.name], "cases of \(record.name)")
                for sub in record.subtests {
                    #expect(sub.outcome == .pass, "\(sub.name): \(sub.message ?? "")")
                }
            }
            #expect(report.exitCode == 0)
        }
    }
}

import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension VirtualMachineSuites {
    /// The local storage suite on the default kernel in a real VM: every
    /// test passes, or skips because the kernel lacks what it needs.
    @Suite(.tags(.vm)) struct StorageSuiteTests {
        /// Reasons a storage test may skip for: a probe found the feature
        /// missing. Anything else is a broken test.
        static let skipReasons = ["kernel lacks ", "the BPF LSM is not active"]

        @Test func storageSuitePassesOrSkipsForAMissingFeature() throws {
            var options = RunOptions()
            options.filter = "storage/*"
            let report = try RunPipeline(options: options, observer: RunRecorder()).run()
            let artifacts = try #require(report.artifactsDirectory)
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")

            let expected = Catalog.all.filter { $0.name.hasPrefix("storage/") }.map(\.name)
            #expect(report.records.map(\.name) == expected)
            for group in ["storage/sk/", "storage/task/", "storage/cgrp/", "storage/inode/"] {
                #expect(report.records.contains { $0.name.hasPrefix(group) }, "no \(group) tests")
            }
            for record in report.records {
                let message = record.message ?? ""
                switch record.outcome {
                case .pass: break
                case .skip:
                    #expect(
                        Self.skipReasons.contains { message.hasPrefix($0) },
                        "\(record.name) skipped without a probe's reason: \(message)")
                default:
                    Issue.record("\(record.name): \(record.outcome.rawValue): \(message)")
                }
                #expect(record.splats.isEmpty, "\(record.name) made the kernel complain")
            }
            #expect(report.unattributedSplats.isEmpty)
            #expect(report.exitCode == 0)

            // The recursion test re-entered the helpers at both attach points.
            let recursion = try #require(
                report.records.first { $0.name == "storage/task/recursion_no_deadlock" })
            #expect(
                recursion.subtests.map(\.name) == [
                    "\(recursion.name)/nested_in_update", "\(recursion.name)/nested_in_link_map",
                ])
            #expect(recursion.subtests.allSatisfy { $0.outcome == .pass })
        }
    }
}

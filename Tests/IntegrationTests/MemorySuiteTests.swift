import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `selftests memory` end to end on the default kernel: the memory tests
/// pass in the guest, and the command prints the table and writes the CSV,
/// JSON and chart from their measurements.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) struct MemorySuiteTests {
        func selftests(_ arguments: [String]) throws -> CommandResult {
            try SystemRunner().run(Command(CommandLineTests.binary, arguments), timeout: 900)
        }

        @Test func memoryCommandMeasuresEveryMapTypeAndWritesItsFiles() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mem-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try selftests(["memory", "--output", dir.path, "--no-color"])
            let output = result.stdoutText
            #expect(result.status == 0, "\(output)\n\(result.stderrText)")
            let artifacts = try #require(
                output.split(separator: "\n").first { $0.hasPrefix("Artifacts:") }
            ).dropFirst("Artifacts:".count).trimmingCharacters(in: .whitespaces)
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")

            let report = try JSONDecoder().decode(
                MemoryReport.self, from: Data(contentsOf: dir.appendingPathComponent("memory.json"))
            )
            #expect(report.tests.map(\.name).allSatisfy { $0.hasPrefix("memory/") })
            #expect(!report.tests.contains { $0.name.hasPrefix("memory/large/") }, "opt-in only")
            for test in report.tests {
                #expect(test.outcome == .pass, "\(test.name): \(test.message ?? "")")
            }
            let types = Set(report.measurements.map(\.type))
            for type in [
                "HASH", "PERCPU_HASH", "LRU_HASH", "LRU_PERCPU_HASH", "ARRAY", "PERCPU_ARRAY",
                "RINGBUF", "SK_STORAGE", "TASK_STORAGE", "CGRP_STORAGE",
            ] {
                #expect(types.contains(type), "no measurement of \(type)")
            }
            for m in report.measurements {
                #expect(m.measured > 0 && m.reported > 0, "\(m.label): \(m)")
                #expect(
                    m.residue <= 4096 * m.cpus, "\(m.label): \(m.residue) bytes left after free")
            }
            // Every measurement is a row of the printed table and of the CSV.
            let csv = try String(
                contentsOf: dir.appendingPathComponent("memory.csv"), encoding: .utf8)
            #expect(csv.split(separator: "\n").count == report.measurements.count + 1)
            #expect(output.contains("map type"))
            #expect(output.contains("rep/meas"))
            let rows = output.split(separator: "\n").filter { line in
                types.contains { line.hasPrefix($0 + " ") } && line.hasSuffix(" pass")
            }
            #expect(rows.count == report.measurements.count)
            let svg = try String(
                contentsOf: dir.appendingPathComponent("memory.svg"), encoding: .utf8)
            #expect(svg.hasPrefix(XMLWriter.declaration))
            #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(output.contains("wrote \(dir.appendingPathComponent("memory.svg").path)"))
        }

        @Test func badMemoryOptionsAreExit2() throws {
            #expect(try selftests(["memory", "--memory", "12"]).status == 2)
            #expect(try selftests(["memory", "--accel", "warp"]).status == 2)
        }
    }
}

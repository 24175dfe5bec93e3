import Foundation
import SelftestKit
import SelftestTestSupport
import Testing

@Suite("Report: JSON", .tags(.unit))
struct ReportJSONTests {
    @Test func roundTripsTheWholeReport() throws {
        let report = ReportSamples.report
        let data = try JSONReport.data(for: report)
        #expect(try JSONReport.report(from: data) == report)
        #expect(try JSONDecoder().decode(RunReport.self, from: data) == report)
        #expect(
            try JSONReport.report(from: JSONReport.data(for: ReportSamples.green))
                == ReportSamples.green)
    }

    @Test func summaryCountsOutcomes() throws {
        let data = try JSONReport.data(for: ReportSamples.report)
        let summary = try JSONReport.summary(from: data)
        #expect(summary.total == 10)
        #expect(summary.exitCode == 1)
        #expect(summary.unattributedSplats == 1)
        #expect(summary.counts["pass"] == 2)
        #expect(summary.counts["fail"] == 2)
        #expect(summary.counts["kernel-crash"] == 1)
        #expect(summary.counts["infra-error"] == 1)
        #expect(Set(summary.counts.keys) == Set(Outcome.allCases.map(\.rawValue)))
        #expect(summary.counts.values.reduce(0, +) == summary.total)

        let green = try JSONReport.summary(from: JSONReport.data(for: ReportSamples.green))
        #expect(green.exitCode == 0 && green.total == 2 && green.counts["fail"] == 0)
    }

    @Test func outputIsSortedPrettyAndReadable() throws {
        let data = try JSONReport.data(for: ReportSamples.report)
        let text = String(decoding: data, as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "accelerator", "artifactsDirectory", "kernel", "kernelRelease", "phases",
                "records", "startedAt", "summary", "unattributedSplats",
            ])
        #expect(text.hasPrefix("{\n  \"accelerator\" : \"kvm\",\n"))
        #expect(text.hasSuffix("}\n"))
        let keys = ["\"accelerator\"", "\"kernel\"", "\"records\"", "\"summary\""]
        let offsets = keys.compactMap { text.range(of: $0)?.lowerBound }
        #expect(offsets.count == keys.count && offsets == offsets.sorted())
        #expect(text.contains("\"name\" : \"storage/sk/omem_charge_delete\""))
        #expect(text.contains("\"outcome\" : \"kernel-crash\""))
    }

    /// The accelerator is typed but written as the string it always was:
    /// `none`, `kvm`, `tcg`, and a merge's `kvm+tcg`.
    @Test(arguments: ["none", "kvm", "tcg", "kvm+tcg"])
    func acceleratorsReadAndWriteTheirOldStrings(text: String) throws {
        let json = Data("\"\(text)\"".utf8)
        let value = try JSONDecoder().decode(RunAccelerators.self, from: json)
        #expect(try JSONEncoder().encode(value) == json)
        #expect(value.description == text)
    }

    @Test func mergedAcceleratorsAreEachOneOnce() {
        #expect(RunAccelerators.union([.tcg, .kvm, .tcg]).description == "kvm+tcg")
        #expect(RunAccelerators.union([.noGuest, .noGuest]) == .noGuest)
        #expect(RunAccelerators("none+tcg") == .tcg)
        #expect(RunAccelerators("qemu") == nil)
    }
}

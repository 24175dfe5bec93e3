import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The table, CSV and JSON that `selftests memory` writes, from a captured run.
@Suite(.tags(.unit)) struct MemoryTableTests {
    @Test func bytesGetThousandsSeparators() {
        #expect(MemoryTable.grouped(0) == "0")
        #expect(MemoryTable.grouped(464) == "464")
        #expect(MemoryTable.grouped(8_388_608) == "8,388,608")
        #expect(MemoryTable.grouped(83_893_296) == "83,893,296")
        #expect(MemoryTable.grouped(-4096) == "-4,096")
    }

    @Test func ratiosAreFixedPoint() {
        #expect(MemoryTable.fixed(1.2, digits: 3) == "1.200")
        #expect(MemoryTable.fixed(0.9655, digits: 3) == "0.966")
        #expect(MemoryTable.fixed(0.004, digits: 3) == "0.004")
        #expect(MemoryTable.fixed(2.977, digits: 2) == "2.98")
        #expect(MemoryTable.ratio(0.965, digits: 2) == "0.97")
        #expect(MemoryTable.ratio(0.0045, digits: 2) == "0.0045", "two significant digits")
        #expect(MemoryTable.ratio(464.0 / 1_638_400, digits: 3) == "0.00028")
        #expect(MemoryTable.ratio(0, digits: 3) == "0.000")
    }

    @Test func theTextTableHasARowPerMeasurementAndAlignedColumns() throws {
        let measurements = try MemoryFixture.measurements(MemoryFixture.defaultRun)
        let lines = MemoryTable.text(measurements).split(separator: "\n").map(String.init)
        #expect(lines.count == measurements.count + 2, "header, rule, rows")
        #expect(lines[0].hasPrefix("map type"))
        #expect(lines[0].contains("rep/meas"))
        // Numbers are right-aligned: every row's `measured` ends in one column.
        let header = lines[0]
        let measuredEnd = try #require(header.range(of: "measured")).upperBound
        let column = header.distance(from: header.startIndex, to: measuredEnd)
        for line in lines.dropFirst(2) {
            let end = line.index(line.startIndex, offsetBy: column)
            #expect(line[..<end].last?.isNumber == true, "\(line)")
        }
        let first = lines[2]
        #expect(first.hasPrefix("HASH "))
        #expect(first.contains("prealloc"))
        #expect(first.contains("86,016"), "measured for HASH 4/4 × 1024")
        #expect(first.contains("83,024"), "memlock for HASH 4/4 × 1024")
        #expect(first.contains("0.965"), "83024 / 86016")
        #expect(first.hasSuffix("pass"))
    }

    @Test func csvHasAHeaderAndTheRawNumbers() throws {
        let measurements = try MemoryFixture.measurements(MemoryFixture.defaultRun)
        let lines = MemoryTable.csv(measurements).split(separator: "\n").map(String.init)
        #expect(lines.count == measurements.count + 1)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            #expect(fields.count == header.count, "\(line)")
        }
        let column = { (name: String) in try #require(header.firstIndex(of: Substring(name))) }
        let row = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(row[try column("test")] == "memory/hash/cost")
        #expect(row[try column("measured")] == "86016")
        #expect(row[try column("reported")] == "83024")
        #expect(row[try column("naive")] == "8192")
        #expect(row[try column("ratio")] == "0.9652")
    }

    @Test func csvQuotesFieldsThatNeedIt() {
        #expect(MemoryTable.csvField("free map") == "free map")
        #expect(MemoryTable.csvField("a,b") == "\"a,b\"")
        #expect(MemoryTable.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
    }

    @Test func theJSONReportRoundTripsAndKeepsVerdicts() throws {
        let report = MemoryReport(run: try MemoryFixture.report(MemoryFixture.defaultRun))
        let decoded = try JSONDecoder().decode(MemoryReport.self, from: try report.json())
        #expect(decoded == report)
        #expect(report.tests.map(\.outcome) == Array(repeating: .pass, count: report.tests.count))
        #expect(report.publishedCase == nil, "the default run has no 1M-entry case")
        #expect(report.subtitle == "kernel 6.12.117+deb12-cloud-amd64, 2 CPUs, tcg")
    }
}

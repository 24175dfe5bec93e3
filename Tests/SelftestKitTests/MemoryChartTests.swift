import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Collects the elements of an SVG document with their attributes.
final class SVGElements: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var text = ""

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        elements.append((name, attributes))
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(
        _ parser: XMLParser, didEndElement name: String, namespaceURI: String?,
        qualifiedName: String?
    ) {
        if name == "text" { texts.append(text) }
    }

    static func parse(_ svg: String) throws -> SVGElements {
        let collector = SVGElements()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        #expect(parser.parse(), "the SVG is well-formed XML")
        return collector
    }
}

/// The SVG chart: well-formed, a row per map, log scale, failures in red.
@Suite(.tags(.unit)) struct MemoryChartTests {
    @Test func everyMeasurementHasTwoBarsALabelAndARatio() throws {
        let report = MemoryReport(run: try MemoryFixture.report(MemoryFixture.defaultRun))
        let svg = MemoryChart.svg(report.measurements, subtitle: report.subtitle)
        let parsed = try SVGElements.parse(svg)
        #expect(parsed.elements.first?.name == "svg")
        #expect(parsed.elements.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        let fills = parsed.elements.filter { $0.name == "rect" }.map { $0.attributes["fill"] }
        let count = report.measurements.count
        // One legend swatch each, then one bar each per row.
        #expect(fills.filter { $0 == MemoryChart.measuredColor }.count == count + 1)
        #expect(fills.filter { $0 == MemoryChart.reportedColor }.count == count + 1)
        #expect(parsed.texts.contains("HASH prealloc 4/4 × 65,536"))
        #expect(parsed.texts.contains("SK_STORAGE free owners × 256 owners"))
        #expect(parsed.texts.contains("RINGBUF 1,048,576 B"))
        #expect(parsed.texts.contains("×0.97"), "83024 / 86016 for HASH 4/4 × 1024")
        #expect(parsed.texts.contains { $0.contains("6.12.117+deb12-cloud-amd64") })
    }

    @Test func barsGrowWithTheValueOnALogScale() throws {
        let measurements = try MemoryFixture.measurements(MemoryFixture.defaultRun)
        let scale = LogScale(measurements.flatMap { [$0.measured, $0.reported, $0.naive] })
        #expect(scale.low == 2, "memlock of a local-storage map is 464 bytes")
        #expect(scale.high == 7, "the largest is 7.9 MB")
        #expect(scale.x(100, from: 0, to: 500) == 0)
        #expect(scale.x(10_000_000, from: 0, to: 500) == 500)
        #expect(abs(scale.x(10_000, from: 0, to: 500) - 200) < 1e-9)
        #expect(LogScale.label(2) == "100 B")
        #expect(LogScale.label(3) == "1 kB")
        #expect(LogScale.label(7) == "10 MB")
    }

    @Test func aFailedCaseIsMarkedInRed() throws {
        var measurements = try MemoryFixture.measurements(MemoryFixture.defaultRun)
        measurements[0].outcome = .fail
        let parsed = try SVGElements.parse(MemoryChart.svg(measurements, subtitle: "test"))
        #expect(parsed.texts.contains("×0.97 FAIL"))
        #expect(parsed.texts.filter { $0.hasSuffix("FAIL") }.count == 1)
    }
}

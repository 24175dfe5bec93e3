import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Runs of the memory tests captured from the guest (`Fixtures/memory`): the
/// KTAP stream the agent wrote, turned into a report as the pipeline does.
enum MemoryFixture {
    /// `selftests run --filter 'memory/*'` on the default kernel under TCG.
    static let defaultRun = "memory/default-run.ktap"
    /// `selftests memory --large`: the memory/large/* part of the run.
    static let largeRun = "memory/large-run.ktap"

    static func report(_ path: String) throws -> RunReport {
        let document = KTAPParser.parse(try ParserFixture.text(path))
        return RunReport(
            kernel: "vmlinuz-6.12.117+deb12-cloud-amd64",
            kernelRelease: "6.12.117+deb12-cloud-amd64",
            accelerator: .tcg, startedAt: "2026-11-21T00:00:00Z",
            records: RecordBuilder.records(from: document))
    }

    static func measurements(_ path: String) throws -> [MemoryMeasurement] {
        MemoryMeasurement.all(in: try report(path))
    }
}

/// The measure lines the guest sends, read back from captured runs.
@Suite(.tags(.unit)) struct MemoryMeasurementTests {
    @Test func aMeasureLineDecodesEveryField() throws {
        let line =
            #"measure: {"case":"ringbuf_prealloc_0_0_65536","type":"RINGBUF","prealloc":true,"#
            + #""key":0,"value":0,"entries":65536,"elements":0,"cpus":2,"created":90112,"#
            + #""measured":77824,"reported":78360,"naive":65536,"kernel":77824,"slab":1184,"#
            + #""percpu":0,"vmalloc":0,"own_pages":4096,"meminfo_kernel":0,"meminfo_percpu":0,"#
            + #""residue":0,"free_ms":30,"fill_ms":0,"freed":"map"}"#
        let m = try #require(MemoryMeasurement.parse(line: line))
        #expect(m.label == "ringbuf_prealloc_0_0_65536")
        #expect(m.type == "RINGBUF")
        #expect(m.entries == 65536)
        #expect(m.measured == 77824)
        #expect(m.reported == 78360)
        #expect(m.naive == 65536)
        #expect(m.ownPages == 4096)
        #expect(m.ownerResidue == nil)
        #expect(m.test == nil, "the guest does not name the test; the host adds it")
        let ratio = try #require(m.ratio)
        #expect(abs(ratio - 78360.0 / 77824.0) < 1e-9)
    }

    @Test func otherDiagnosticsAndBrokenJSONAreNotMeasurements() {
        #expect(MemoryMeasurement.parse(line: "optmem: baseline 0, 400 with one element") == nil)
        #expect(MemoryMeasurement.parse(line: #"measure: {"case":"x""#) == nil)
        #expect(MemoryMeasurement.parse(line: #"measure: {"case":"x","type":"HASH"}"#) == nil)
    }

    @Test func theDefaultRunHasOneMeasurementPerCaseWithItsTestAndVerdict() throws {
        let report = try MemoryFixture.report(MemoryFixture.defaultRun)
        let expected = TestFilter("memory/*").select(from: Catalog.all).map(\.name)
        #expect(report.records.map(\.name) == expected)
        let measurements = MemoryMeasurement.all(in: report)
        let cases = report.records.flatMap(\.subtests)
        #expect(measurements.count == cases.count, "one measure line per case")
        for m in measurements {
            let test = try #require(m.test)
            #expect(cases.contains { $0.name == "\(test)/\(m.label)" }, "\(m.label) has no case")
            #expect(m.outcome == .pass, "\(m.label)")
            #expect(m.measured > 0, "\(m.label): the cgroup was charged")
        }
        let types = Set(measurements.map(\.type))
        #expect(
            types == [
                "HASH", "PERCPU_HASH", "LRU_HASH", "LRU_PERCPU_HASH", "ARRAY", "PERCPU_ARRAY",
                "RINGBUF", "SK_STORAGE", "TASK_STORAGE", "CGRP_STORAGE",
            ])
    }

    @Test func localStorageFreedOwnersFirstCarryWhatLingered() throws {
        let storage = try MemoryFixture.measurements(MemoryFixture.defaultRun)
            .filter(\.isLocalStorage)
        #expect(storage.count == 6)
        for m in storage {
            #expect((m.freed == "owners") == (m.ownerResidue != nil), "\(m.label)")
            #expect(m.mode == (m.freed == "owners" ? "free owners" : "free map"))
            #expect(m.residue == 0, "\(m.label): freeing the map returned everything")
        }
        let sk = try #require(storage.first { $0.type == "SK_STORAGE" && $0.freed == "owners" })
        #expect(sk.ownerResidue == 0, "socket storage goes with its sockets")
    }

    @Test func theLargeRunReproducesThePublishedCase() throws {
        let report = MemoryReport(run: try MemoryFixture.report(MemoryFixture.largeRun))
        let published = try #require(report.publishedCase)
        #expect(published.test == "memory/large/published")
        #expect(published.naive == 8_388_608, "round_up(4 + 4, 8) × 1,048,576")
        // The old kernel's memlock was the naive figure; 6.12's is the
        // element and bucket arrays, as the cgroup sees them.
        #expect(published.reported > 10 * published.naive)
        let ratio = try #require(published.ratio)
        #expect(ratio > 0.99 && ratio < 1.01)
    }
}

extension MemoryReport {
    /// The measurement that reproduces the published case (HASH, 4-byte key
    /// and value, 1,048,576 entries, preallocated), if this run had it.
    var publishedCase: MemoryMeasurement? {
        measurements.first {
            $0.type == "HASH" && $0.prealloc && $0.keySize == 4 && $0.valueSize == 4
                && $0.entries == 1 << 20
        }
    }
}

import Foundation

/// Everything `selftests memory` writes: the measurements of one run, with
/// the kernel and machine they were taken on, as JSON, CSV, text and SVG.
public struct MemoryReport: Sendable, Codable, Equatable {
    public var kernel: String
    public var kernelRelease: String?
    public var accelerator: RunAccelerators
    public var startedAt: String
    /// The memory tests' verdicts: a failed bound shows here and in `measurements`.
    public var tests: [TestVerdict]
    public var measurements: [MemoryMeasurement]

    /// One test's verdict and message.
    public struct TestVerdict: Sendable, Codable, Equatable {
        public var name: String
        public var outcome: Outcome
        public var message: String?
    }

    public init(run: RunReport) {
        kernel = run.kernel
        kernelRelease = run.kernelRelease
        accelerator = run.accelerator
        startedAt = run.startedAt
        tests = run.records.map {
            TestVerdict(name: $0.name, outcome: $0.outcome, message: $0.message)
        }
        measurements = MemoryMeasurement.all(in: run)
    }

    /// Kernel, CPUs and accelerator, for the chart's subtitle.
    public var subtitle: String {
        let cpus = measurements.first.map { ", \($0.cpus) CPUs" } ?? ""
        return "kernel \(kernelRelease ?? kernel)\(cpus), \(accelerator)"
    }

    /// The JSON document: sorted keys, pretty-printed, newline at the end.
    public func json() throws -> Data {
        try DocumentJSON.data(self)
    }

    /// Writes `memory.csv`, `memory.json` and `memory.svg` into `directory`
    /// (made if missing); returns their paths.
    public func write(to directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files: [(String, Data)] = [
            ("memory.csv", Data(MemoryTable.csv(measurements).utf8)),
            ("memory.json", try json()),
            ("memory.svg", Data(MemoryChart.svg(measurements, subtitle: subtitle).utf8)),
        ]
        return try files.map { name, data in
            let url = directory.appendingPathComponent(name)
            try data.write(to: url, options: .atomic)
            return url
        }
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Report paths are checked before a run starts, and a report that still
/// cannot be written at the end costs that file only.
@Suite(.tags(.unit)) struct ReportFilesTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "report-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    @Test func aReportInADirectoryThatDoesNotExistIsRefusedNamingTheOption() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("reports/junit.xml").path
        let error = #expect(throws: SelftestError.self) {
            try ReportFiles.check([("--json", nil), ("--junit", path)])
        }
        #expect(error?.kind == .usage)
        #expect(error?.domain == .reports)
        #expect(error?.input == "--junit \(path)")
        #expect(error?.fix?.contains("mkdir -p") == true)
        // An existing directory is fine.
        try ReportFiles.check([("--junit", dir.appendingPathComponent("junit.xml").path)])
    }

    @Test func aReportPathThatIsADirectoryIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: SelftestError.self) {
            try ReportFiles.check([("--json", dir.path)])
        }
        #expect(error?.domain == .reports)
        #expect(error?.input == "--json \(dir.path)")
    }

    @Test func anOutputDirectoryMayBeNewButNotAFile() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try ReportFiles.checkDirectory(
            option: "--output", path: dir.appendingPathComponent("new").path)
        let file = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        let error = #expect(throws: SelftestError.self) {
            try ReportFiles.checkDirectory(option: "--output", path: file.path)
        }
        #expect(error?.input == "--output \(file.path)")
        let deep = dir.appendingPathComponent("a/b").path
        #expect(throws: SelftestError.self) {
            try ReportFiles.checkDirectory(option: "--output", path: deep)
        }
    }

    /// The directory went away during the run: that file is said and left
    /// out, with the system's reason rather than Foundation's dump; the
    /// other report is still written.
    @Test func aReportThatCannotBeWrittenAtTheEndCostsThatFileOnly() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let gone = dir.appendingPathComponent("gone/out.json").path
        let kept = dir.appendingPathComponent("out.xml").path
        var said: [String] = []
        let failed = ReportFiles.write(
            [("--json", gone, { Data("{}".utf8) }), ("--junit", kept, { Data("<x/>".utf8) })],
            say: { said.append($0) })
        #expect(failed == ["--json"])
        #expect(FileManager.default.contents(atPath: kept) == Data("<x/>".utf8))
        #expect(said == ["selftests: could not write --json \(gone): No such file or directory"])
    }
}

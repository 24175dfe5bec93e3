import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

@Suite(.tags(.unit)) struct ByteSizeTests {
    @Test(arguments: [
        ("0", Int64(0)), ("4096", 4096), ("500M", 500 << 20), ("2G", 2 << 30),
        ("2g", 2 << 30), ("1.5GiB", 3 << 29), ("64KB", 64 << 10), ("1T", 1 << 40),
    ])
    func sizesAreRead(text: String, bytes: Int64) throws {
        #expect(try ByteSize.parse(text, input: "--images-max \(text)") == bytes)
    }

    @Test(arguments: ["5X", "", "G", "-1G", "1..5G", "2 G B", "nan", "1e3M", "99999999T"])
    func badSizesAreRefused(text: String) {
        let error = #expect(throws: SelftestError.self) {
            try ByteSize.parse(text, input: "--images-max \(text)")
        }
        #expect(error?.domain == .cache)
        #expect(error?.input == "--images-max \(text)")
        #expect(error?.exitCode == 2)
    }

    @Test func theAutomaticBoundComesFromTheEnvironment() throws {
        #expect(try CachePruner.automaticImagesMax(environment: [:]) == 2 << 30)
        let variable = CachePruner.imagesMaxVariable
        #expect(try CachePruner.automaticImagesMax(environment: [variable: "500M"]) == 500 << 20)
        #expect(try CachePruner.automaticImagesMax(environment: [variable: "off"]) == nil)
        let error = #expect(throws: SelftestError.self) {
            try CachePruner.automaticImagesMax(environment: [variable: "5X"])
        }
        #expect(error?.input == "SELFTESTS_IMAGES_MAX=5X")
    }

    @Test(arguments: [
        (Int64(512), "512 B"), (12 << 10, "12 KiB"), (Int64(26_843_545), "25.6 MiB"),
        (2 << 30, "2 GiB"),
    ])
    func sizesAreShown(bytes: Int64, text: String) {
        #expect(ByteSize.format(bytes) == text)
    }
}

@Suite(.tags(.unit)) struct DiskUsageTests {
    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "disk-usage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A sparse file costs the blocks it holds, not its length.
    @Test func sparseFilesCountTheirBlocks() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sparse")
        try Data().write(to: file)
        #expect(truncate(file.path, 1 << 30) == 0)
        #expect(DiskUsage().allocated(file.path) < 1 << 20)
    }

    /// Two names of one file are counted once, across areas too.
    @Test func hardLinksCountOnce() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = Cache(root: dir)
        let one = try cache.directory("progs").appendingPathComponent("a.o")
        try Data(repeating: 3, count: 1 << 20).write(to: one)
        let two = try cache.directory("images").appendingPathComponent("a.cpio")
        #expect(link(one.path, two.path) == 0)
        let single = DiskUsage().allocated(one.path)
        #expect(single >= 1 << 20)
        let dirs =
            DiskUsage().allocated(cache.entry("images").path)
            + DiskUsage().allocated(cache.entry("progs").path)
        let usage = CacheUsage.measure(cache)
        #expect(usage.total < dirs)
        #expect(usage.total - single < 64 << 10)
        #expect(usage.areas.map(\.name) == ["progs", "images"])
        #expect(usage.areas.map(\.entries) == [1, 1])
    }

    /// An area the tool does not know is shown, not hidden.
    @Test func unknownAreasAreShown() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = Cache(root: dir)
        _ = try cache.directory("runs", "r1")
        _ = try cache.directory("mystery")
        let usage = CacheUsage.measure(cache)
        #expect(usage.areas.map(\.name) == ["runs", "mystery"])
        #expect(usage.text.contains("not selftests' own"))
    }
}

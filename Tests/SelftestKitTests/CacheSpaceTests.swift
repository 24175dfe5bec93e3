import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// A cache that cannot be written is refused up front, as what it is; a
/// full filesystem met later is said, and leaves no half-written entry.
@Suite(.tags(.unit)) final class CacheSpaceTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
        "cache-space-\(UUID())")

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    @Test func aCacheUnderARegularFileIsRefusedNamingTheFile() throws {
        let file = scratch.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        let root = file.appendingPathComponent("cache")
        let input = Cache.input(cacheDirectory: root)
        let error = try #require(
            refusal { try Cache(root: root).checkWritable(input: input) })
        #expect(error.kind == .usage)
        #expect(error.domain == .cache)
        #expect(error.input == "--cache-dir \(root.path)")
        #expect(Cache.blockingFile(root.path) == file.path)
        // The file itself as the cache is the same refusal.
        let itself = try #require(
            refusal { try Cache(root: file).checkWritable(input: "--cache-dir x") })
        #expect(itself.domain == .cache)
    }

    @Test func aWritableCacheIsMadeAndLeftClean() throws {
        let root = scratch.appendingPathComponent("a/b/cache")
        try Cache(root: root).checkWritable(input: "--cache-dir \(root.path)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }

    /// Each errno a cache directory can fail with has its own message.
    @Test func readOnlyDeniedAndFullAreToldApart() throws {
        let codes = [EROFS, EACCES, ENOSPC, ENOTDIR, EIO]
        let errors = codes.map { Cache.problem($0, at: scratch.path, input: "--cache-dir c") }
        #expect(Set(errors.map(\.message)).count == codes.count)
        #expect(errors.allSatisfy { $0.domain == .cache && $0.input == "--cache-dir c" })
        #expect(errors.allSatisfy { $0.exitCode == 2 })
    }

    /// A real ENOSPC (from /dev/full) in a cache write: the error names the
    /// directory and what a run needs, and no temporary file stays.
    @Test func aFullFilesystemInAWriteIsSaidAndLeavesNothing() throws {
        let entry = scratch.appendingPathComponent("btf/vmlinux.h")
        let error = try #require(
            refusal {
                try Cache.produce(entry) { _ in
                    try Data(count: 1 << 16).write(to: URL(fileURLWithPath: "/dev/full"))
                }
            })
        #expect(error.kind == .environment)
        #expect(error.domain == .cache)
        #expect(error.input == entry.deletingLastPathComponent().path)
        #expect(error.fix?.contains("\(Cache.estimatedRunMiB) MiB") == true)
        let left = try FileManager.default.contentsOfDirectory(
            atPath: entry.deletingLastPathComponent().path)
        #expect(left.isEmpty, "\(left)")
    }

    @Test func onlyANoSpaceErrorIsCalledAFullDisk() throws {
        func caught(_ body: () throws -> Void) -> Error? {
            do {
                try body()
                return nil
            } catch {
                return error
            }
        }
        let full = caught { try Data(count: 4096).write(to: URL(fileURLWithPath: "/dev/full")) }
        #expect(full.map(Cache.isOutOfSpace) == true, "\(String(describing: full))")
        let missing = caught {
            try Data(count: 1).write(to: self.scratch.appendingPathComponent("no/such/dir/file"))
        }
        #expect(missing.map(Cache.isOutOfSpace) == false, "\(String(describing: missing))")
    }
}

import Foundation
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// Cache entries carry their size and SHA-256 from when they were written;
/// one damaged since is rebuilt, and the rebuild is said.
@Suite(.tags(.unit)) final class CacheEntryTests {
    let cache = Cache(
        root: FileManager.default.temporaryDirectory.appendingPathComponent(
            "cache-entry-\(UUID())"))

    deinit { try? FileManager.default.removeItem(at: cache.root) }

    @Test func anEntryIsIntactUntilItChanges() throws {
        let url = cache.entry("progs", "key", "x.bpf.o")
        #expect(Cache.verify(url, digests: FileDigests(store: nil)) == .missing)
        try Cache.writeRecorded(Data("an object".utf8), to: url)
        #expect(Cache.verify(url, digests: FileDigests(store: nil)) == .intact)
        let left = try FileManager.default.contentsOfDirectory(
            atPath: url.deletingLastPathComponent().path)
        #expect(left.sorted() == [".x.bpf.o.digest", "x.bpf.o"], "a temporary file stayed")

        // The same size, other bytes: only the digest tells.
        try Data("an abject".utf8).write(to: url)
        guard case .damaged = Cache.verify(url, digests: FileDigests(store: nil)) else {
            Issue.record("an overwritten entry was trusted")
            return
        }
        try Data().write(to: url)
        guard case .damaged = Cache.verify(url, digests: FileDigests(store: nil)) else {
            Issue.record("an emptied entry was trusted")
            return
        }
        // An entry with no record cannot be vouched for.
        try Cache.write(Data("old".utf8), to: url)
        try FileManager.default.removeItem(at: Cache.recordURL(url))
        guard case .damaged = Cache.verify(url, digests: FileDigests(store: nil)) else {
            Issue.record("an entry without a record was trusted")
            return
        }
    }
}

extension NeedsTools {
    /// A damaged vmlinux.h and a damaged object, made by bpftool and clang
    /// from the default kernel.
    @Suite(.tags(.needsTools)) final class DamagedCacheEntryTests {
        let cache = Cache(
            root: FileManager.default.temporaryDirectory.appendingPathComponent(
                "cache-entry-\(UUID())"))

        deinit { try? FileManager.default.removeItem(at: cache.root) }

        /// Notes said while rebuilding, from any thread.
        final class Notes: Sendable {
            let said = Mutex<[String]>([])
            var all: [String] { said.withLock { $0 } }
            func note(_ text: String) { said.withLock { $0.append(text) } }
        }

        /// The reported case: an emptied cached vmlinux.h made every program a
        /// `build-error`. Now the header is made again, the same text, and a
        /// damaged compiled program is compiled again; each is said.
        @Test func anEmptiedVmlinuxHeaderAndObjectAreRebuiltAndSaid() throws {
            let toolchain = try Toolchain.discover()
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let digests = FileDigests(store: nil)
            let notes = Notes()
            func header() throws -> VmlinuxHeader {
                try VmlinuxHeader.make(
                    for: kernel, toolchain: toolchain, cache: cache, digests: digests,
                    note: notes.note)
            }
            let first = try header()
            let file = first.directory.appendingPathComponent("vmlinux.h")
            let text = try Data(contentsOf: file)
            #expect(try header().cached)
            #expect(notes.all.isEmpty)

            try Data().write(to: file)
            let second = try header()
            #expect(!second.cached)
            #expect(try Data(contentsOf: file) == text)
            #expect(second.textDigest == first.textDigest)
            #expect(notes.all.count == 1 && notes.all[0].contains(file.path), "\(notes.all)")

            let compiler = ProgramCompiler(
                progsDirectory: RunPipeline.defaultProgsDirectory, toolchain: toolchain,
                header: second, cache: cache, digests: digests, note: notes.note)
            guard case .object(let object, false) = try compiler.compile(["hash_ops"])["hash_ops"]
            else {
                Issue.record("hash_ops.bpf.c did not compile")
                return
            }
            let compiled = try Data(contentsOf: object)
            try Data(compiled.prefix(100)).write(to: object)
            guard case .object(_, false) = try compiler.compile(["hash_ops"])["hash_ops"] else {
                Issue.record("a truncated object was used from the cache")
                return
            }
            #expect(Cache.verify(object, digests: FileDigests(store: nil)) == .intact)
            #expect(try Data(contentsOf: object).count > 100)
            #expect(notes.all.count == 2 && notes.all[1].contains(object.path), "\(notes.all)")
        }
    }
}

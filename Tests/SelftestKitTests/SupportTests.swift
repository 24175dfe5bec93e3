import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

@Suite(.tags(.unit)) struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(input) == digest)
    }

    @Test func agreesWithSha256sumAcrossBlockBoundaries() throws {
        var bytes: [UInt8] = []
        for i in 0..<200_003 { bytes.append(UInt8(truncatingIfNeeded: i &* 31 &+ 7)) }
        var hasher = SHA256()
        hasher.update(bytes[..<63])
        hasher.update(bytes[63..<129])
        hasher.update(bytes[129...])
        let result = try SystemRunner().run(
            Command("sha256sum", []), stdin: Data(bytes), timeout: 30)
        #expect(result.stdoutText.hasPrefix(hasher.finalize()))
    }
}

@Suite(.tags(.unit)) struct CacheTests {
    @Test func produceLeavesNothingWhenTheMakerThrows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("entry.o")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try Cache.produce(target) { temp in
                try Data("half".utf8).write(to: temp)
                throw Boom()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        try Cache.produce(target) { try Data("whole".utf8).write(to: $0) }
        #expect(try String(contentsOf: target, encoding: .utf8) == "whole")
    }

    @Test func xdgCacheHomeIsHonoured() {
        #expect(Cache.defaultRoot(environment: ["XDG_CACHE_HOME": "/x"]).path == "/x/selftests")
        #expect(Cache.defaultRoot(environment: ["HOME": "/h"]).path == "/h/.cache/selftests")
    }
}

@Suite(.tags(.unit)) struct FilterTests {
    @Test func defaultSelectionExcludesFixtures() {
        let selected = TestFilter(nil).select(from: Catalog.all)
        #expect(!selected.isEmpty)
        #expect(selected.allSatisfy { !$0.isFixture })
        #expect(TestFilter("*").select(from: Catalog.all).allSatisfy { !$0.isFixture })
    }

    @Test func globsSpanSlashesAndCommasJoinPatterns() {
        let names = TestFilter("storage/sk/*, fixture/fail").select(from: Catalog.all).map(\.name)
        #expect(names.contains("storage/sk/omem_charge_delete"))
        #expect(names.contains("fixture/fail"))
        #expect(!names.contains("fixture/hang"))
        #expect(Glob.matches("st*ge/?k/*", "storage/sk/omem_charge_delete"))
        #expect(!Glob.matches("storage", "storage/sk/x"))
    }

    @Test func catalogNamesAreUniqueAndGrouped() {
        let names = Catalog.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.split(separator: "/").count >= 2 })
    }
}

@Suite(.tags(.unit)) struct ToolchainTests {
    @Test func missingToolsNameOneAptCommand() {
        let error = Toolchain.missingError([
            .init(what: "qemu-system-x86_64", package: "qemu-system-x86"),
            .init(what: "bpftool", package: "bpftool"),
        ])
        #expect(error.exitCode == 2)
        #expect(error.message.contains("qemu-system-x86_64"))
        #expect(error.fix?.contains("apt-get install bpftool qemu-system-x86") == true)
    }
}

@Suite(.tags(.unit)) struct FileDigestTests {
    /// Large files go to sha256sum, small ones to the Swift SHA-256: the
    /// two must agree.
    @Test func bothDigestPathsAgree() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "digest-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let bytes = (0..<300_001).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try Data(bytes).write(to: file)
        let big = try FileDigests(store: nil).digest(of: file.path)
        #expect(FileDigests.sha256sum(file.path) == big)
        #expect(try FileDigests.hash(file.path) == big)
    }

    /// A probe's answer is kept for the file it was asked of, across runs
    /// (the store), and asked again once the file changes.
    @Test func aProbeIsAskedAgainOnlyOnceTheFileChanges() throws {
        let dir = try scratchDirectory("probe")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tool = dir.appendingPathComponent("clang")
        try Data("v1".utf8).write(to: tool)
        let store = dir.appendingPathComponent("digests.json")
        var asked = 0
        func probe() -> String {
            asked += 1
            return "answer \(asked)"
        }
        let first = FileDigests(store: store)
        #expect(try first.remembered("version", of: tool.path, probe) == "answer 1")
        #expect(try first.remembered("version", of: tool.path, probe) == "answer 1")
        #expect(try first.remembered("other probe", of: tool.path, probe) == "answer 2")
        first.save()
        let next = FileDigests(store: store)
        #expect(try next.remembered("version", of: tool.path, probe) == "answer 1", "next run")
        try Data("v2, longer".utf8).write(to: tool)
        #expect(try next.remembered("version", of: tool.path, probe) == "answer 3")
        #expect(asked == 3)
    }

    /// The agent's libraries, as the real ldd output lists them, are asked
    /// of ldd once; once one of them is gone, ldd is asked again.
    @Test func theAgentsLibrariesAreAskedOfLddOnceWhileTheyAreThere() throws {
        let dir = try scratchDirectory("ldd")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The captured output, its libraries moved under the scratch directory.
        let captured = try ParserFixture.text("ldd-selftests-guest.txt")
            .replacingOccurrences(of: " /", with: " \(dir.path)/")
            .replacingOccurrences(of: "\t/lib64", with: "\t\(dir.path)/lib64")
        let libraries = GuestImage.parseLdd(captured)
        #expect(libraries.count == 17)
        for path in libraries {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try Data(path.utf8).write(to: URL(fileURLWithPath: path))
        }
        let agent = dir.appendingPathComponent("selftests-guest")
        try Data("agent".utf8).write(to: agent)
        let runner = RecordingRunner { _ in
            CommandResult(status: 0, stdout: Data(captured.utf8), stderr: Data())
        }
        let digests = FileDigests(store: nil)
        for _ in 0..<2 {
            #expect(
                try GuestImage.closure(of: agent.path, runner: runner, digests: digests)
                    == libraries)
        }
        #expect(runner.commands.withLock { $0.count } == 1)
        try FileManager.default.removeItem(atPath: libraries[0])
        _ = try GuestImage.closure(of: agent.path, runner: runner, digests: digests)
        #expect(runner.commands.withLock { $0.count } == 2, "a library gone: ldd again")
    }

    /// The KVM verdict is keyed on QEMU's version: asked once for the
    /// binary, and again (a new key) once QEMU is another build.
    @Test func theKVMProbesKeyAsksQEMUsVersionOncePerBinary() throws {
        let dir = try scratchDirectory("qemu")
        defer { try? FileManager.default.removeItem(at: dir) }
        let qemu = dir.appendingPathComponent("qemu-system-x86_64")
        try Data("7.2".utf8).write(to: qemu)
        let runner = RecordingRunner { _ in
            let version = (try? String(contentsOf: qemu, encoding: .utf8)) ?? ""
            return CommandResult(
                status: 0, stdout: Data("QEMU emulator version \(version)\n".utf8), stderr: Data())
        }
        let probe = KVMProbe(
            qemu: qemu.path, cache: Cache(root: dir), digests: FileDigests(store: nil))
        let key = probe.hostKey(runner: runner)
        #expect(probe.hostKey(runner: runner) == key)
        #expect(runner.commands.withLock { $0.count } == 1)
        try Data("8.2.1".utf8).write(to: qemu)
        #expect(probe.hostKey(runner: runner) != key, "another QEMU, another verdict")
        #expect(runner.commands.withLock { $0.count } == 2)
    }
}

@Suite(.tags(.unit)) struct RunDirectoriesTests {
    /// The newest are kept; an old one a live run still holds is not pruned.
    @Test func oldDirectoriesArePrunedButNeverOneInUse() throws {
        let cache = Cache(
            root: FileManager.default.temporaryDirectory.appendingPathComponent(
                "runs-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: cache.root) }
        for index in 0..<CachePruner.defaultRunsKeep + 5 {
            _ = try cache.directory("runs", String(format: "2020-01-01T0000%02dZ-1", index))
        }
        let held = cache.entry("runs", "2020-01-01T000000Z-1")
        let fd = open(held.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        #expect(flock(fd, LOCK_SH) == 0)

        let new = try RunDirectories.create(in: cache, kind: "series")
        let left = try FileManager.default.contentsOfDirectory(atPath: cache.entry("runs").path)
        #expect(left.contains(new.lastPathComponent))
        #expect(left.contains(held.lastPathComponent), "a directory in use was pruned")
        #expect(!left.contains("2020-01-01T000001Z-1"))
        #expect(left.count == CachePruner.defaultRunsKeep + 1, "\(left.sorted())")
        #expect(new.lastPathComponent.hasSuffix("-\(getpid())-series"))
    }
}

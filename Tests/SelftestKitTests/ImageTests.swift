import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

@Suite(.tags(.unit)) struct CPIOWriterTests {
    @Test func planArchiveCarriesNamesAndBounds() throws {
        var entry = TestSpec("test_progs/hashmap", "upstream", timeoutSeconds: 300)
        entry.arguments = ["-a", "hashmap/generic", "-d", "@/test_progs/deny"]
        let data = GuestImage.planArchive([
            TestSpec("storage/sk/a", "a", timeoutSeconds: 30),
            TestSpec("fixture/hang", "hang", timeoutSeconds: 3), entry,
        ])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("selftests/plan"))
        #expect(
            text.contains(
                "storage/sk/a\t30\nfixture/hang\t3\n"
                    + "test_progs/hashmap\t300\t-a\u{1F}hashmap/generic\u{1F}-d\u{1F}@/test_progs/deny\n"
            ))
        #expect(text.contains("TRAILER!!!"))
    }

    /// The kernel unpacks concatenated archives in order: base, extras,
    /// plan, byte for byte, and the cached base is left as it was.
    @Test func initrdIsTheBaseThenTheExtrasThenThePlan() throws {
        let dir = try scratchDirectory("initrd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = Data(repeating: 0xB0, count: 3 << 20)
        let extra = Data(repeating: 0xE1, count: 4096)
        try base.write(to: dir.appendingPathComponent("base.cpio"))
        try extra.write(to: dir.appendingPathComponent("extra.cpio"))
        var image = GuestImage(base: dir.appendingPathComponent("base.cpio"), cached: true)
        image.extras = [dir.appendingPathComponent("extra.cpio")]
        let plan = GuestImage.planArchive([TestSpec("storage/sk/a", "a", timeoutSeconds: 30)])
        let initrd = dir.appendingPathComponent("boot/initrd.cpio")
        try image.initrd(plan: plan, at: initrd)
        #expect(try Data(contentsOf: initrd) == base + extra + plan)
        #expect(try Data(contentsOf: image.base) == base)
        let left = try FileManager.default.contentsOfDirectory(
            atPath: initrd.deletingLastPathComponent().path)
        #expect(left == ["initrd.cpio"])
    }
}

extension NeedsTools {
    @Suite(.tags(.needsTools)) struct SystemCpioTests {
        /// The archive is read back by the system's cpio, the same format the
        /// kernel's initramfs unpacker reads.
        @Test func systemCpioListsEveryEntry() throws {
            var cpio = CPIOWriter()
            cpio.directory("bin")
            cpio.file("bin/agent", contents: Data("#!/bin/sh\n".utf8), mode: 0o755)
            cpio.symlink("bin/sh", target: "busybox")
            cpio.characterDevice("dev/console", major: 5, minor: 1)
            cpio.file("odd", contents: Data([1, 2, 3]))
            let data = cpio.finish()
            #expect(data.count % 4 == 0)

            let dir = try scratchDirectory("cpio")
            defer { try? FileManager.default.removeItem(at: dir) }
            let archive = dir.appendingPathComponent("a.cpio")
            try data.write(to: archive)
            let listing = try SystemRunner().run(
                Command("cpio", ["-itv", "-F", archive.path]), timeout: 30)
            #expect(listing.succeeded, "\(listing.stderrText)")
            let lines = listing.stdoutText.split(separator: "\n")
            #expect(lines.count == 5)
            #expect(lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix("bin/agent") })
            #expect(
                lines.contains { $0.hasPrefix("lrwxrwxrwx") && $0.hasSuffix("bin/sh -> busybox") })
            #expect(lines.contains { $0.hasPrefix("crw-------") && $0.hasSuffix("dev/console") })
        }
    }
}

@Suite(.tags(.unit)) struct LddTests {
    @Test func closureFromRealLddOutput() throws {
        let url = try #require(
            Bundle.module.url(forResource: "Fixtures/ldd-selftests-guest", withExtension: "txt"))
        let paths = GuestImage.parseLdd(try String(contentsOf: url, encoding: .utf8))
        #expect(paths.contains("/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(paths.contains("/lib64/ld-linux-x86-64.so.2"))
        #expect(paths.contains { $0.hasSuffix("/libbpf.so.1") })
        #expect(paths.contains { $0.hasSuffix("/libswiftCore.so") })
        #expect(!paths.contains { $0.contains("vdso") }, "the vDSO is the kernel's, not a file")
        #expect(paths.allSatisfy { $0.hasPrefix("/") })
    }
}

extension NeedsTools {
    @Suite(.tags(.needsTools)) struct ELFStripperTests {
        /// A program built with debug info loses its symbol table and debug
        /// sections, keeps the dynamic symbols a crash report names, and still
        /// runs (an ordinary host program: nothing BPF runs here).
        @Test func stripsDebugAndSymtabKeepsDynsym() throws {
            let root = try scratchDirectory("strip")
            defer { try? FileManager.default.removeItem(at: root) }
            let source = root.appendingPathComponent("hello.c")
            try Data("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n".utf8)
                .write(to: source)
            let program = root.appendingPathComponent("hello").path
            let runner = SystemRunner()
            let built = try runner.run(
                Command("cc", ["-g", "-o", program, source.path]), timeout: 120)
            try #require(built.succeeded, "\(built.stderrText)")

            let stripper = ELFStripper(strip: "strip", runner: runner, cache: Cache(root: root))
            let data = try stripper.stripped(program)
            let output = root.appendingPathComponent("hello-stripped")
            try data.write(to: output)
            chmod(output.path, 0o755)

            func sections(_ path: String) throws -> String {
                try runner.run(Command("readelf", ["-S", "-W", path]), timeout: 30).stdoutText
            }
            let before = try sections(program)
            let after = try sections(output.path)
            #expect(before.contains(".symtab") && before.contains(".debug_info"))
            #expect(!after.contains(".symtab"))
            #expect(!after.contains(".debug_info"))
            #expect(after.contains(".dynsym"))
            #expect(data.count < (try Data(contentsOf: URL(fileURLWithPath: program))).count)
            let ran = try runner.run(Command(output.path, []), timeout: 30)
            #expect(ran.succeeded && ran.stdoutText == "hello\n")
            // Nothing of the scratch copy is left under the cache's tmp.
            let left = try FileManager.default.contentsOfDirectory(
                atPath: root.appendingPathComponent("tmp").path)
            #expect(left.isEmpty)
        }
    }
}

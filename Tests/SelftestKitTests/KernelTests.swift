import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

@Suite(.tags(.unit)) struct KernelImageTests {
    @Test func aFileThatIsNotABzImageIsRefusedByName() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "not-a-kernel-\(UUID())")
        try Data(repeating: 0x41, count: 4096).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        #expect {
            try KernelImage(path: path.path)
        } throws: { error in
            let e = error as? SelftestError
            return e?.exitCode == 2 && e?.message.contains(path.path) == true
                && e?.message.contains("not a bzImage") == true
        }
    }

    @Test func aMissingKernelNamesThePathAndTheFix() {
        #expect {
            try KernelImage(path: "/nonexistent/bzImage")
        } throws: { error in
            let e = error as? SelftestError
            return e?.message.contains("/nonexistent/bzImage") == true && e?.fix != nil
        }
    }
}

/// The compiler's cache key and arguments: a toolchain and a header made
/// by hand, since neither is run.
@Suite(.tags(.unit)) struct ProgramCompilerTests {
    let cache = Cache(root: URL(fileURLWithPath: "/cache"))
    let toolchain = Toolchain(
        qemu: "/usr/bin/qemu-system-x86_64", clang: "/usr/bin/clang",
        clangVersion: "Debian clang version 14.0.6", bpftool: "/usr/sbin/bpftool",
        busybox: "/bin/busybox", libbpfIncludeDirectory: "/usr/include")

    func header() -> (VmlinuxHeader, Toolchain) {
        let digest = String(repeating: "a", count: 64)
        let header = VmlinuxHeader(
            directory: cache.entry("btf", digest), kernelDigest: digest,
            textDigest: String(repeating: "b", count: 64), cached: true)
        return (header, toolchain)
    }

    /// Another kernel with the same types gives the same vmlinux.h text:
    /// its programs must not compile again, wherever its header lives.
    @Test func programsAreKeyedOnTheHeadersTextNotOnItsKernel() throws {
        let (header, toolchain) = header()
        let progs = RunPipeline.defaultProgsDirectory
        let source = Data("int x;".utf8)
        func key(_ header: VmlinuxHeader) throws -> String {
            try ProgramCompiler(
                progsDirectory: progs, toolchain: toolchain, header: header, cache: cache
            )
            .key(for: "sk_storage_omem", source: source)
        }
        var otherKernel = header
        otherKernel.directory = cache.root.appendingPathComponent("btf/another-kernel")
        otherKernel.kernelDigest = String(repeating: "0", count: 64)
        #expect(try key(otherKernel) == key(header))
        var otherTypes = header
        otherTypes.textDigest = String(repeating: "1", count: 64)
        #expect(try key(otherTypes) != key(header))
    }

    @Test func clangArgumentsTargetBPFWithCORE() throws {
        let (header, toolchain) = header()
        let compiler = ProgramCompiler(
            progsDirectory: URL(fileURLWithPath: "/p"), toolchain: toolchain, header: header,
            cache: cache)
        let args = compiler.arguments(source: "/p/x.bpf.c", output: "/o/x.bpf.o")
        #expect(args.adjacent("-target", "bpf"))
        #expect(args.contains("-g") && args.contains("-O2"))
        #expect(args.adjacent("-I", header.directory.path))
        #expect(args.adjacent("-o", "/o/x.bpf.o"))
    }
}

/// These use the default kernel that scripts/setup.sh installs and the
/// tools it installs (a test prerequisite, like the compiler): a missing one
/// is a broken setup.
extension NeedsTools {
    @Suite(.tags(.needsTools)) struct DefaultKernelTests {
        @Test func defaultKernelIsABzImageWithItsRelease() throws {
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let release = try #require(kernel.release)
            #expect(release.hasPrefix("6.12."))
            #expect(kernel.path.hasSuffix("vmlinuz-\(release)"))
        }
    }

    /// vmlinux.h from the default kernel's BTF (bpftool), programs
    /// compiled by clang.
    @Suite(.serialized, .tags(.needsTools)) struct BTFAndCompileTests {
        let cache = Cache(
            root: FileManager.default.temporaryDirectory.appendingPathComponent(
                "selftests-btf-\(getpid())"))

        func header() throws -> (VmlinuxHeader, Toolchain) {
            let toolchain = try Toolchain.discover()
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let header = try VmlinuxHeader.make(
                for: kernel, toolchain: toolchain, cache: cache, digests: FileDigests(store: nil))
            return (header, toolchain)
        }

        @Test func vmlinuxHeaderComesFromTheKernelsOwnBTFAndIsCached() throws {
            let (first, _) = try header()
            let text = try String(
                contentsOf: first.directory.appendingPathComponent("vmlinux.h"), encoding: .utf8)
            #expect(text.contains("struct bpf_local_storage_elem {"))
            #expect(text.contains("BPF_MAP_TYPE_SK_STORAGE"))
            let (second, _) = try header()
            #expect(second.cached)
            #expect(second.kernelDigest == first.kernelDigest)
        }

        @Test func aCompileErrorIsAProductWithClangsFirstError() throws {
            let (header, toolchain) = try header()
            let progs = cache.root.appendingPathComponent("progs-src")
            try FileManager.default.createDirectory(at: progs, withIntermediateDirectories: true)
            try Data(
                """
                #include "vmlinux.h"
                #include <bpf/bpf_helpers.h>
                SEC("tp/syscalls/sys_enter_getpid")
                int broken(void *ctx) { return no_such_function(ctx); }
                char _license[] SEC("license") = "GPL";
                """.utf8
            ).write(to: progs.appendingPathComponent("broken.bpf.c"))
            try Data(
                """
                #include "vmlinux.h"
                #include <bpf/bpf_helpers.h>
                int seen;
                SEC("tp/syscalls/sys_enter_getpid")
                int fine(void *ctx) { seen = 1; return 0; }
                char _license[] SEC("license") = "GPL";
                """.utf8
            ).write(to: progs.appendingPathComponent("fine.bpf.c"))
            let compiler = ProgramCompiler(
                progsDirectory: progs, toolchain: toolchain, header: header, cache: cache)
            let products = try compiler.compile(["broken", "fine"])
            guard case .failed(let message) = products["broken"] else {
                Issue.record("broken.bpf.c compiled")
                return
            }
            #expect(message.contains("error:"))
            #expect(message.contains("no_such_function"))
            guard case .object(let url, let cached) = products["fine"] else {
                Issue.record("fine.bpf.c did not compile: \(String(describing: products["fine"]))")
                return
            }
            #expect(!cached)
            let object = try Data(contentsOf: url)
            #expect(object.starts(with: [0x7f, 0x45, 0x4c, 0x46]))
            // The BTF libbpf needs is kept; the DWARF the guest never reads is not.
            #expect(object.range(of: Data(".BTF.ext".utf8)) != nil)
            #expect(object.range(of: Data(".debug_".utf8)) == nil)
            guard case .object(_, true) = try compiler.compile(["fine"])["fine"] else {
                Issue.record("second compile was not a cache hit")
                return
            }
        }
    }
}

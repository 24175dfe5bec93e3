import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Kbuild's output, read as it streams: steps counted, the first error found.
/// The logs are real: see Fixtures/kbuild/SOURCES.md.
@Suite(.tags(.unit)) struct KernelBuildOutputTests {
    static let tree = "/root/.cache/selftests/src/linux-source-6.12"

    @Test func aFailedBuildNamesTheFirstCompilerErrorAndItsFile() throws {
        let log = try KBuildFixture.text("kbuild/build-error-6.12.log")
        let output = BuildOutput(log: log, stripping: [BrokenTree.path, BrokenTree.output])
        let error = try #require(output.firstError)
        #expect(error.file == "kernel/bpf/bpf_local_storage.c")
        #expect(error.line == BrokenTree.line)
        #expect(error.message == BrokenTree.message)
        #expect(error.context.first?.contains(BrokenTree.source) == true, "\(error.context)")
        #expect(output.failure == error)
        #expect(output.firstMakeError?.hasPrefix("make[") == true)
        #expect(output.steps > 100, "the build got that far before the error")
    }

    @Test func aFullRebuildCountsItsStepsAndHasNoError() throws {
        let log = try KBuildFixture.text("kbuild/build-reconfigured-6.12.log")
        let output = BuildOutput(log: log, stripping: [Self.tree])
        #expect(output.firstError == nil)
        #expect(output.firstMakeMessage == nil)
        #expect(output.firstMakeError == nil)
        #expect(output.steps == 1451, "the steps the runner reported for this build")
        #expect(output.current == "BUILD arch/x86/boot/bzImage")
        #expect(output.tail.contains { $0.hasPrefix("Kernel: arch/x86/boot/bzImage is ready") })
    }

    @Test func aTreeBuiltInPlaceIsReportedWithKbuildsOwnWords() throws {
        let log = try KBuildFixture.text("kbuild/build-unclean-tree-6.12.log")
        let failure = BuildOutput(log: log).failure
        #expect(failure.file == nil)
        #expect(failure.message.hasPrefix("The source tree is not clean, please run 'make"))
    }

    @Test func linesCutAcrossChunksAreJoinedAndColorIsRemoved() {
        var output = BuildOutput(stripping: ["/src/linux"])
        let text =
            "  CC      kernel/bpf/core.o\n"
            + "\u{1b}[01m\u{1b}[K/src/linux/kernel/bpf/core.c:12:5:\u{1b}[m\u{1b}[K "
            + "\u{1b}[01;31m\u{1b}[Kerror: \u{1b}[m\u{1b}[Kexpected ';' before 'return'\n"
            + "   12 |  x = 1\n"
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) {
            output.consume(Data(bytes[start..<min(start + 7, bytes.count)]))
        }
        output.finish()
        #expect(output.steps == 1)
        #expect(output.current == "CC kernel/bpf/core.o")
        #expect(
            output.firstError
                == BuildError(
                    file: "kernel/bpf/core.c", line: 12,
                    message: "error: expected ';' before 'return'", context: ["   12 |  x = 1"]))
        #expect(
            output.firstError?.description
                == "kernel/bpf/core.c:12: error: expected ';' before 'return'")
    }

    @Test func aLinkerErrorNamesTheObjectAndTheSymbol() {
        let output = BuildOutput(
            log: """
                  LD      vmlinux.o
                ld: kernel/bpf/syscall.o: in function `bpf_map_new_fd':
                /src/linux/kernel/bpf/syscall.c:(.text+0x1b2): undefined reference to `missing_fn'
                make[2]: *** [scripts/Makefile.vmlinux_o:62: vmlinux.o] Error 1
                """, stripping: ["/src/linux"])
        #expect(
            output.failure.description
                == "kernel/bpf/syscall.c: undefined reference to `missing_fn'")
    }

    @Test func withNothingBetterTheFailureIsMakesOwnLineThenTheLogsEnd() {
        let make = BuildOutput(
            log: "  GEN     Makefile\nmake: *** No rule to make target 'bzImag'.  Stop.\n")
        #expect(make.failure.message == "No rule to make target 'bzImag'.  Stop.")
        let silent = BuildOutput(log: "")
        #expect(silent.failure.message == "the build failed with no output")
    }

    @Test func onlyKbuildStepLinesCount() {
        for line in [
            "  CC      kernel/fork.o", "  HOSTCC  scripts/kconfig/conf.o",
            "  BTF     .btf.vmlinux.bin.o",
            "  ZSTD22  arch/x86/boot/compressed/vmlinux.bin.zst",
        ] {
            #expect(BuildOutput.step(line) != nil, "\(line)")
        }
        for line in [
            "  Kernel: arch/x86/boot/bzImage is ready  (#1)", "   12 |  x = 1", "CC kernel/fork.o",
            "make[1]: Entering directory '/out'", "  |     ^", "",
        ] {
            #expect(BuildOutput.step(line) == nil, "\(line)")
        }
    }
}

/// How `build-error-6.12.log` was made: Debian's 6.12 tree copied to `path`
/// with the `;` after `return selem` removed at line 105 of
/// kernel/bpf/bpf_local_storage.c, built by `selftests kernel build`.
enum BrokenTree {
    static let path = "/tmp/kbuild/linux-broken"
    static let output = "/tmp/kbuild/cache-broken/kbuild/linux-broken-bpf-minimal-831a6c472375/out"
    static let line = 105
    static let message = "error: expected ‘;’ before ‘}’ token"
    static let source = "return selem"
}

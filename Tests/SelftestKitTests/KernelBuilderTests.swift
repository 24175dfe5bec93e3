import Foundation
import Synchronization
import Testing

@testable import SelftestKit

/// The kernel build against a fake make that replays real captured builds:
/// make's config targets leave the captured `.config`, and `make bzImage`
/// writes a captured log and exits as that build did.
@Suite(.tags(.unit)) struct KernelBuilderTests {
    /// make's config targets: `tinyconfig` leaves `config` as the `.config`.
    final class FakeConfigure: CommandRunning {
        let config: String
        let commands = Mutex<[Command]>([])
        init(config: String) { self.config = config }

        func run(_ command: Command, stdin: Data?, timeout: Double) throws -> CommandResult {
            commands.withLock { $0.append(command) }
            if command.arguments.contains("tinyconfig"),
                let output = command.arguments.first(where: { $0.hasPrefix("O=") })?.dropFirst(2)
            {
                try Data(config.utf8).write(
                    to: URL(fileURLWithPath: String(output)).appendingPathComponent(".config"))
            }
            return CommandResult(status: 0, stdout: Data(), stderr: Data())
        }
    }

    /// Builds a stand-in tree in an empty cache, `make` standing in for
    /// the build's make; `check` sees the result and the build directory.
    static func build(
        make: FakeMake, _ check: (KernelBuildResult, BuildDirectory) throws -> Void
    ) throws {
        let tree = try FakeTree.make(selftestsConfig: nil)
        defer { tree.remove() }
        let cache = Cache(
            root: FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-kbuild-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let configure = FakeConfigure(config: try KBuildFixture.text("kbuild/bpf-minimal.config"))
        let builder = KernelBuilder(
            request: KernelBuildRequest(tree: tree.url), cache: cache,
            host: HostContext(runner: configure, spawner: make, clock: FakeClock()))
        let fragments = try ConfigFragment.resolve([], tree: tree.url)
        let directory = BuildDirectory.locate(tree: tree.url, fragments: fragments, cache: cache)
        let result = try builder.build(
            tree: tree.url, tools: BuildTools(make: "make", compiler: "gcc"),
            fragments: fragments, in: directory, observer: KBuildNoteRecorder())
        #expect(
            configure.commands.withLock { $0 }.count == 3,
            "tinyconfig, merge_config.sh, olddefconfig")
        let bzImage = try #require(make.commands.withLock { $0 }.first)
        #expect(
            Array(bzImage.arguments.dropFirst(3)) == [
                "make", "-C", tree.url.path, "O=\(directory.output.path)", "ARCH=x86_64",
                "-j\(ProcessInfo.processInfo.activeProcessorCount)", "CC=gcc", "bzImage",
            ], "make's words after the sh line that joins its stderr to stdout")
        try check(result, directory)
    }

    @Test func aCapturedCompileErrorIsAFailedBuildNamingTheFile() throws {
        let capture = FakeMake.Capture(
            log: try KBuildFixture.text("kbuild/build-error-6.12.log"), tree: BrokenTree.path,
            output: BrokenTree.output)
        try Self.build(make: FakeMake(capture, status: 2)) { result, directory in
            guard case .failed(let failure) = result else {
                Issue.record("a compile error must be a failed build, not \(result)")
                return
            }
            #expect(failure.error.file == "kernel/bpf/bpf_local_storage.c")
            #expect(failure.error.line == BrokenTree.line)
            #expect(failure.error.message == BrokenTree.message)
            #expect(failure.error.context.first?.contains(BrokenTree.source) == true)
            #expect(failure.log == directory.log.path)
            let log = try String(contentsOf: directory.log, encoding: .utf8)
            #expect(log.contains(BrokenTree.message), "make's output is the build log")
            #expect(!Cache.exists(directory.manifest), "no product recorded")
        }
    }

    @Test func aCapturedBuildThatEndsWellIsTheProductItLeft() throws {
        let capture = FakeMake.Capture(
            log: try KBuildFixture.text("kbuild/build-reconfigured-6.12.log"),
            tree: KernelBuildOutputTests.tree,
            output: "/root/.cache/selftests/kbuild/linux-source-6.12-bpf-minimal-581d3ed3a4ab/out")
        let make = FakeMake(
            capture, status: 0,
            products: [
                "arch/x86/boot/bzImage": "bzImage", "vmlinux": "vmlinux",
                "include/config/kernel.release": "6.12.117\n",
            ])
        try Self.build(make: make) { result, directory in
            guard case .built(let product) = result else {
                Issue.record("a build that exits 0 with its products is built, not \(result)")
                return
            }
            #expect(product.steps == 1451, "the steps the runner reported for this build")
            #expect(product.release == "6.12.117")
            #expect(product.bzImage == directory.output.path + "/arch/x86/boot/bzImage")
            #expect(product.vmlinux == directory.output.path + "/vmlinux")
            #expect(product.unmetOptions.isEmpty)
            #expect(product.fragments == ["bpf-minimal"])
            let recorded = try DocumentJSON.decode(
                KernelBuildProduct.self, from: Data(contentsOf: directory.manifest))
            #expect(recorded == product)
        }
    }

    @Test func makeThatSucceedsWithoutAKernelIsARunnerError() throws {
        let capture = FakeMake.Capture(log: "", tree: "/nonexistent", output: "/nonexistent")
        #expect(throws: SelftestError.self) {
            try Self.build(make: FakeMake(capture, status: 0)) { _, _ in }
        }
    }
}

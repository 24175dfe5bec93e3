import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The commands a build runs, the directory it keeps, and the default tree.
@Suite(.tags(.unit)) struct KernelBuildCommandTests {
    let tree = URL(fileURLWithPath: "/src/linux")
    let output = URL(fileURLWithPath: "/cache/kbuild/linux-bpf-minimal-0123/out")

    @Test func configureIsTinyconfigThenTheFragmentsThenOlddefconfig() {
        let fragments = [
            ConfigFragment(name: "bpf-minimal", path: "/vm/config/bpf-minimal.config", text: ""),
            ConfigFragment(name: "debug", path: "/vm/config/debug.config", text: ""),
        ]
        let commands = KernelConfigure(tree: tree, output: output, fragments: fragments).commands
        let common = ["-C", "/src/linux", "O=\(output.path)", "ARCH=x86_64"]
        #expect(
            commands == [
                Command("make", common + ["-s", "tinyconfig"]),
                Command(
                    "env",
                    [
                        "-C", output.path, "sh", "/src/linux/scripts/kconfig/merge_config.sh", "-m",
                        "-O", output.path, ".config", "/vm/config/bpf-minimal.config",
                        "/vm/config/debug.config",
                    ]),
                Command("make", common + ["-s", "olddefconfig"]),
            ])
    }

    @Test func theBuildIsOutOfTreeWithCcacheAndAFixedIdentity() {
        let tools = BuildTools(
            make: "/usr/bin/make", compiler: "ccache gcc", ccache: "/usr/bin/ccache", git: nil)
        let cache = Cache(root: URL(fileURLWithPath: "/cache"))
        let env = tools.environment(cache: cache, inherited: [:])
        let command = KernelBuilder.makeCommand(
            tools: tools, tree: tree, output: output, jobs: 2, environment: env)
        #expect(command.executable == "/usr/bin/make")
        #expect(
            command.arguments == [
                "-C", "/src/linux", "O=\(output.path)", "ARCH=x86_64", "-j2", "CC=ccache gcc",
                "bzImage",
            ])
        #expect(env["CCACHE_DIR"] == "/cache/ccache")
        #expect(env["KBUILD_BUILD_TIMESTAMP"] == BuildTools.reproducible["KBUILD_BUILD_TIMESTAMP"])
        for key in [
            "KBUILD_BUILD_USER", "KBUILD_BUILD_HOST", "KBUILD_BUILD_VERSION", "LC_MESSAGES",
        ] {
            #expect(env[key] != nil, "\(key) must be fixed so rebuilds hit ccache")
        }
        let own = tools.environment(cache: cache, inherited: ["CCACHE_DIR": "/home/me/ccache"])
        #expect(own["CCACHE_DIR"] == nil, "a CCACHE_DIR the user set is kept")
    }

    @Test func makeOutputIsCombinedByAFixedShellLineNotByQuotingArguments() {
        let command = MakeProcess.combined(Command("make", ["O=/a b", "CC=ccache gcc"]))
        #expect(command.executable == "/bin/sh")
        #expect(
            command.arguments == [
                "-c", "exec \"$@\" 2>&1", "sh", "make", "O=/a b", "CC=ccache gcc",
            ])
    }

    @Test func oneBuildDirectoryPerTreeAndConfig() {
        let cache = Cache(root: URL(fileURLWithPath: "/cache"))
        let minimal = [ConfigFragment(name: "bpf-minimal", path: "/a", text: "CONFIG_BPF=y\n")]
        let debug =
            minimal + [ConfigFragment(name: "debug", path: "/b", text: "CONFIG_PROVE_LOCKING=y\n")]
        let first = BuildDirectory.locate(tree: tree, fragments: minimal, cache: cache)
        let again = BuildDirectory.locate(tree: tree, fragments: minimal, cache: cache)
        let other = BuildDirectory.locate(tree: tree, fragments: debug, cache: cache)
        let elsewhere = BuildDirectory.locate(
            tree: URL(fileURLWithPath: "/src/linux-next"), fragments: minimal, cache: cache)
        #expect(first.root == again.root)
        #expect(first.root.lastPathComponent.hasPrefix("linux-bpf-minimal-"))
        #expect(other.root.lastPathComponent.hasPrefix("linux-bpf-minimal-debug-"))
        #expect(Set([first.root, other.root, elsewhere.root]).count == 3)
        #expect(first.output.path == first.root.path + "/out")
        var edited = minimal
        edited[0].text += "CONFIG_KASAN=y\n"
        let same = BuildDirectory.locate(tree: tree, fragments: edited, cache: cache)
        #expect(same.root == first.root, "an edited fragment reconfigures the same directory")
        #expect(same.stamp(for: edited) != first.stamp(for: minimal))
    }

    @Test func aTreeConfiguredInPlaceIsRefusedWithTheFix() throws {
        let fake = try FakeTree.make(selftestsConfig: nil)
        defer { fake.remove() }
        try KernelConfigure.validate(tree: fake.url)
        try Data("CONFIG_X=y\n".utf8).write(to: fake.url.appendingPathComponent(".config"))
        #expect {
            try KernelConfigure.validate(tree: fake.url)
        } throws: { error in
            let e = error as? SelftestError
            return e?.message.contains("configured or built in place") == true
                && e?.fix?.contains("make mrproper") == true
        }
        #expect {
            try KernelConfigure.validate(tree: URL(fileURLWithPath: "/nonexistent"))
        } throws: { error in
            let e = error as? SelftestError
            return e?.domain == .tree && e?.input == "--tree /nonexistent"
                && e?.message.contains("no Makefile") == false
        }
    }
}

extension NeedsTools {
    /// The default tree from a tarball, unpacked by tar and xz.
    @Suite(.tags(.needsTools)) struct KernelSourceTests {
        /// A small tarball stands in for Debian's: the same steps, in seconds.
        @Test func theDefaultTreeIsUnpackedOnceAsOneCommitWithAStableId() throws {
            let work = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-source-\(getpid())-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: work) }
            let top = work.appendingPathComponent("content/linux-source-9.9")
            try FileManager.default.createDirectory(
                at: top.appendingPathComponent("kernel/bpf"), withIntermediateDirectories: true)
            try Data("obj-y += core.o\n".utf8).write(
                to: top.appendingPathComponent("kernel/bpf/Makefile"))
            // The kernel's .gitignore names generated files; the tarball's copy of one is kept.
            try Data("*.o\n".utf8).write(to: top.appendingPathComponent(".gitignore"))
            try Data([0x7f]).write(to: top.appendingPathComponent("kernel/bpf/shipped.o"))
            let tarball = work.appendingPathComponent("linux-source-9.9.tar.xz").path
            let tar = try SystemRunner().run(
                Command(
                    "tar",
                    [
                        "-cJf", tarball, "-C", work.appendingPathComponent("content").path,
                        "linux-source-9.9",
                    ]))
            try #require(tar.succeeded, "tar: \(tar.stderrText)")

            var ids: [String] = []
            for name in ["one", "two"] {
                let cache = Cache(root: work.appendingPathComponent(name))
                let (tree, created) = try KernelSource.ensure(tarball: tarball, cache: cache)
                #expect(created)
                #expect(tree.path == work.path + "/\(name)/src/linux-source-9.9")
                let log = try SystemRunner().run(
                    Command("git", ["-C", tree.path, "log", "--format=%H %an"]))
                let lines = log.stdoutText.split(separator: "\n")
                #expect(lines.count == 1, "one commit: \(log.stdoutText)")
                ids.append(String(lines.first ?? ""))
                let files = try SystemRunner().run(Command("git", ["-C", tree.path, "ls-files"]))
                #expect(
                    files.stdoutText == ".gitignore\nkernel/bpf/Makefile\nkernel/bpf/shipped.o\n")
                #expect(try KernelSource.ensure(tarball: tarball, cache: cache).created == false)
            }
            #expect(ids[0] == ids[1], "the same tarball gives the same commit")
            #expect(ids[0].hasSuffix(" selftests"))
            #expect {
                try KernelSource.ensure(
                    tarball: work.path + "/missing.tar.xz", cache: Cache(root: work))
            } throws: { error in
                (error as? SelftestError)?.fix?.contains("linux-source-6.12") == true
            }
        }
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Fragments and resolved configs: parsing, merging in order, the check.
@Suite(.tags(.unit)) struct KernelBuildConfigTests {
    @Test func parsesSetAndUnsetLinesAndSkipsComments() {
        let config = KernelConfig(
            parsing: """
                # Automatically generated file; DO NOT EDIT.
                # Compiler: gcc (Debian 12.2.0-14+deb12u1) 12.2.0
                CONFIG_BPF_SYSCALL=y
                # CONFIG_KASAN is not set
                CONFIG_LSM="bpf"
                  CONFIG_NR_CPUS=8
                CONFIG_=y
                # CONFIG_X has a comment
                """)
        #expect(
            config.settings == [
                .init("CONFIG_BPF_SYSCALL", "y"), .init("CONFIG_KASAN", "n"),
                .init("CONFIG_LSM", "\"bpf\""), .init("CONFIG_NR_CPUS", "8"),
            ])
        #expect(config.value(of: "CONFIG_KASAN") == "n")
        #expect(config.value(of: "CONFIG_ABSENT") == "n", "an absent symbol reads as not set")
        #expect(config.settings[1].line == "# CONFIG_KASAN is not set")
    }

    @Test func laterFragmentsOverrideEarlierOnesAsMergeConfigDoes() {
        let base = KernelConfig(parsing: "CONFIG_SLUB_TINY=y\nCONFIG_BPF_SYSCALL=y\n")
        let kasan = KernelConfig(parsing: "# CONFIG_SLUB_TINY is not set\nCONFIG_KASAN=y\n")
        let requested = KernelConfig.requested(by: [base, kasan])
        #expect(
            requested.settings == [
                .init("CONFIG_SLUB_TINY", "n"), .init("CONFIG_BPF_SYSCALL", "y"),
                .init("CONFIG_KASAN", "y"),
            ])
    }

    @Test func theCheckNamesEveryOptionThatDidNotTake() {
        let requested = KernelConfig(
            parsing: """
                CONFIG_BPF_LSM=y
                CONFIG_NET_CLS_BPF=m
                CONFIG_LSM="bpf"
                # CONFIG_SLUB_TINY is not set
                CONFIG_NR_CPUS=8
                CONFIG_DOES_NOT_EXIST=y
                """)
        let resolved = KernelConfig(
            parsing: """
                CONFIG_NET_CLS_BPF=y
                CONFIG_LSM=bpf
                CONFIG_SLUB_TINY=y
                CONFIG_NR_CPUS=2
                """)
        let unmet = resolved.unmet(requested)
        #expect(
            unmet.map(\.description) == [
                "CONFIG_BPF_LSM=y (got not set)", "CONFIG_SLUB_TINY=n (got y)",
                "CONFIG_NR_CPUS=8 (got 2)", "CONFIG_DOES_NOT_EXIST=y (got not set)",
            ], "m is met by y without modules; a string matches with or without quotes")
    }

    @Test func bpfMinimalComesFirstUnlessNamedAndNamesResolveInOrder() throws {
        let tree = try FakeTree.make(selftestsConfig: "CONFIG_BPF_JIT=y\n")
        defer { tree.remove() }
        let names = try ConfigFragment.resolve(["debug", "selftests", "debug"], tree: tree.url)
            .map(\.name)
        #expect(names == ["bpf-minimal", "debug", "selftests"])
        let explicit = try ConfigFragment.resolve(["kasan", "bpf-minimal"], tree: tree.url)
        #expect(explicit.map(\.name) == ["kasan", "bpf-minimal"])
        let own = tree.url.appendingPathComponent("mine.config")
        try Data("CONFIG_KASAN=y\n".utf8).write(to: own)
        let file = try ConfigFragment.resolve([own.path], tree: tree.url)
        #expect(
            file.map(\.path) == [
                ConfigFragment.defaultDirectory.path + "/bpf-minimal.config", own.path,
            ])
    }

    @Test func anUnknownFragmentNameListsTheKnownOnes() throws {
        let tree = try FakeTree.make(selftestsConfig: nil)
        defer { tree.remove() }
        #expect {
            try ConfigFragment.resolve(["lockdep"], tree: tree.url)
        } throws: { error in
            let e = error as? SelftestError
            return e?.domain == .options && e?.input == "--config lockdep"
                && e?.message == "no config fragment 'lockdep'"
                && e?.fix?.contains("bpf-minimal, debug, kasan, vng, selftests") == true
        }
        #expect {
            try ConfigFragment.resolve(["selftests"], tree: tree.url)
        } throws: { error in
            (error as? SelftestError)?.message.contains("tools/testing/selftests/bpf/config")
                == true
        }
    }

    /// The resolved configs are real: `make tinyconfig`, merge_config.sh with
    /// the fragments, `make olddefconfig`, on Debian's 6.12 source.
    @Test(arguments: [
        ("bpf-minimal.config", ["bpf-minimal"]),
        ("bpf-minimal+debug.config", ["bpf-minimal", "debug"]),
        ("bpf-minimal+kasan.config", ["bpf-minimal", "kasan"]),
        ("bpf-minimal+vng.config", ["bpf-minimal", "vng"]),
    ])
    func everyOptionOfTheShippedFragmentsTakes(fixture: String, fragments: [String]) throws {
        let text = try KBuildFixture.text("kbuild/" + fixture)
        let loaded = try fragments.map {
            try ConfigFragment.load(
                name: $0, path: ConfigFragment.defaultDirectory.path + "/\($0).config")
        }
        let check = KernelConfigure.check(config: text, fragments: loaded)
        #expect(check.unmet.isEmpty, "options of \(fragments) that did not take: \(check.unmet)")
        #expect(check.missingRequired.isEmpty, "\(check.missingRequired.map(\.name))")
        #expect(check.resolved.value(of: "CONFIG_DEBUG_INFO_BTF") == "y")
        #expect(check.hash.count == 64)
    }

    /// The tree's own BPF selftests config asks for netdevs and TCP modules
    /// whose menus tinyconfig leaves off: the check names each one.
    @Test func theTreesSelftestsConfigMergesAndTheCheckNamesWhatDidNotTake() throws {
        let fragments = [
            try ConfigFragment.load(
                name: "bpf-minimal",
                path: ConfigFragment.defaultDirectory.path + "/bpf-minimal.config"),
            ConfigFragment(
                name: "selftests", path: "tools/testing/selftests/bpf/config",
                text: try KBuildFixture.text("kbuild/selftests-bpf-6.12.fragment")),
        ]
        let check = KernelConfigure.check(
            config: try KBuildFixture.text("kbuild/bpf-minimal+selftests.config"),
            fragments: fragments)
        #expect(check.missingRequired.isEmpty)
        #expect(
            check.unmet.map(\.name) == [
                "CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT", "CONFIG_BLK_DEV_LOOP",
                "CONFIG_BOOTPARAM_HARDLOCKUP_PANIC", "CONFIG_BOOTPARAM_SOFTLOCKUP_PANIC",
                "CONFIG_DUMMY", "CONFIG_GENEVE", "CONFIG_IPV6_SEG6_BPF", "CONFIG_NETDEVSIM",
                "CONFIG_NETKIT", "CONFIG_TEST_BPF", "CONFIG_VXLAN", "CONFIG_TCP_CONG_DCTCP",
                "CONFIG_TCP_CONG_BBR",
            ])
        // Its DWARF4 choice overrides bpf-minimal's toolchain default: BTF stays.
        #expect(check.resolved.value(of: "CONFIG_DEBUG_INFO_DWARF4") == "y")
        #expect(check.resolved.value(of: "CONFIG_DEBUG_INFO_BTF") == "y")
    }

    @Test func aConfigWithoutBTFIsRefusedNamingWhatIsMissing() throws {
        let text = try KBuildFixture.text("kbuild/bpf-minimal+no-btf.config")
        let fragments = [
            try ConfigFragment.load(
                name: "bpf-minimal",
                path: ConfigFragment.defaultDirectory.path + "/bpf-minimal.config"),
            ConfigFragment(
                name: "no-btf", path: "no-btf.config",
                text: "# CONFIG_DEBUG_INFO_BTF is not set\n"),
        ]
        let check = KernelConfigure.check(config: text, fragments: fragments)
        #expect(check.unmet.isEmpty)
        #expect(check.missingRequired.map(\.name) == ["CONFIG_DEBUG_INFO_BTF"])
        let error = SuiteRequirements.error(check.missingRequired, config: check.resolved)
        #expect(error.exitCode == 2)
        #expect(
            error.message
                == "the kernel config lacks what the suite needs: CONFIG_DEBUG_INFO_BTF "
                + "(vmlinux.h, CO-RE and fentry; built by pahole)")
    }

    @Test func withoutPaholeTheRefusalSaysToInstallIt() {
        let config = KernelConfig(parsing: "CONFIG_PAHOLE_VERSION=0\nCONFIG_BPF_SYSCALL=y\n")
        let missing = SuiteRequirements.missing(in: config)
        #expect(missing.contains { $0.name == "CONFIG_DEBUG_INFO_BTF" })
        #expect(!missing.contains { $0.name == "CONFIG_BPF_SYSCALL" })
        let error = SuiteRequirements.error(missing, config: config)
        #expect(error.fix?.hasPrefix("install pahole 1.16 or later") == true)
    }
}

/// Reads captured fixtures from the test bundle.
enum KBuildFixture {
    static func text(_ name: String) throws -> String {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
    }
}

/// A directory shaped like a kernel tree, for the resolution and build tests.
struct FakeTree {
    let url: URL

    static func make(selftestsConfig: String?) throws -> FakeTree {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("selftests-fake-tree-\(getpid())-\(UUID().uuidString)")
        for dir in ["scripts/kconfig", "arch/x86", "tools/testing/selftests/bpf"] {
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        for file in ["Makefile", "Kconfig", "scripts/kconfig/merge_config.sh"] {
            try Data().write(to: url.appendingPathComponent(file))
        }
        if let selftestsConfig {
            try Data(selftestsConfig.utf8).write(
                to: url.appendingPathComponent("tools/testing/selftests/bpf/config"))
        }
        return FakeTree(url: url)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

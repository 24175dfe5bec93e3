import Foundation

/// One config fragment given to `--config`: a name for messages and its text.
public struct ConfigFragment: Sendable, Equatable {
    /// `bpf-minimal`, `debug`, `selftests`, or the absolute path of a file.
    public var name: String
    public var path: String
    public var text: String

    public init(name: String, path: String, text: String) {
        self.name = name
        self.path = path
        self.text = text
    }

    public var config: KernelConfig { KernelConfig(parsing: text) }

    /// The base every build starts from: the smallest config the suite runs on.
    public static let baseName = "bpf-minimal"
    /// Names the tree's own `tools/testing/selftests/bpf/config`.
    public static let treeSelftestsName = "selftests"
    static let treeSelftestsPath = "tools/testing/selftests/bpf/config"

    /// The package's `vm/config/`.
    public static var defaultDirectory: URL {
        PackageRoot.url.appendingPathComponent("vm").appendingPathComponent("config")
    }

    /// The fragment names in `directory`, sorted.
    public static func names(in directory: URL) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".config") }.map { String($0.dropLast(7)) }.sorted()
    }

    /// Resolves `--config` values in order, `bpf-minimal` first unless named:
    /// a fragment name in `directory`, `selftests` for the tree's own BPF
    /// selftests config, or a path to a file.
    public static func resolve(
        _ specs: [String], tree: URL, directory: URL = defaultDirectory
    ) throws -> [ConfigFragment] {
        var ordered = specs
        if !ordered.contains(baseName) { ordered.insert(baseName, at: 0) }
        var seen: Set<String> = []
        return try ordered.filter { seen.insert($0).inserted }.map {
            try resolve($0, tree: tree, directory: directory)
        }
    }

    static func resolve(_ spec: String, tree: URL, directory: URL) throws -> ConfigFragment {
        let named = directory.appendingPathComponent(spec + ".config")
        if !spec.contains("/"), FileManager.default.fileExists(atPath: named.path) {
            return try load(name: spec, path: named.path)
        }
        if spec == treeSelftestsName {
            let path = tree.appendingPathComponent(treeSelftestsPath).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw SelftestError(
                    .usage, .options, "the tree \(tree.path) has no \(treeSelftestsPath)",
                    input: "--config selftests",
                    fix: "drop --config selftests, or use a tree that has the BPF selftests")
            }
            return try load(name: spec, path: path)
        }
        if FileManager.default.fileExists(atPath: spec) {
            // The absolute path names it: the build directory is keyed by names.
            let path = URL(fileURLWithPath: spec).standardizedFileURL.path
            return try load(name: path, path: path)
        }
        let known = (names(in: directory) + [treeSelftestsName]).joined(separator: ", ")
        throw SelftestError(
            .usage, .options, "no config fragment '\(spec)'",
            input: "--config \(spec)", fix: "use one of \(known), or a path to a fragment file")
    }

    static func load(name: String, path: String) throws -> ConfigFragment {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SelftestError(
                .usage, .options, "cannot read config fragment \(path)", input: "--config \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        if KernelConfig(parsing: text).settings.isEmpty {
            throw SelftestError(
                .usage, .options, "config fragment \(path) sets no CONFIG_ option",
                input: "--config \(path)",
                fix: "write lines like CONFIG_DEBUG_INFO_BTF=y or # CONFIG_KASAN is not set")
        }
        return ConfigFragment(name: name, path: path, text: text)
    }
}

/// The options without which the suite cannot run, each with what needs it.
/// A config lacking one is refused before anything is compiled.
public enum SuiteRequirements {
    public static let options: [(name: String, why: String)] = [
        ("CONFIG_64BIT", "the guest agent is an x86_64 binary"),
        ("CONFIG_BPF_SYSCALL", "the bpf() syscall"),
        ("CONFIG_BPF_JIT", "BPF trampolines"),
        ("CONFIG_DEBUG_INFO_BTF", "vmlinux.h, CO-RE and fentry; built by pahole"),
        ("CONFIG_KALLSYMS", "attaching fentry/fexit by name"),
        ("CONFIG_FUNCTION_TRACER", "fentry/fexit"),
        ("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS", "fentry/fexit trampolines"),
        ("CONFIG_BPF_LSM", "inode storage and LSM programs"),
        ("CONFIG_SECURITY_NETWORK", "LSM programs on socket hooks"),
        ("CONFIG_CGROUPS", "cgroup storage"),
        ("CONFIG_MEMCG", "memory accounting"),
        ("CONFIG_CGROUP_BPF", "cgroup programs"),
        ("CONFIG_INET", "TCP and UDP sockets"),
        ("CONFIG_IPV6", "IPv6 sockets"),
        ("CONFIG_UNIX", "unix sockets"),
        ("CONFIG_BINFMT_ELF", "running the guest agent"),
        ("CONFIG_BINFMT_SCRIPT", "the /init script"),
        ("CONFIG_FUTEX", "threads in the guest agent"),
        ("CONFIG_BLK_DEV_INITRD", "the initramfs"),
        ("CONFIG_DEVTMPFS", "/dev"),
        ("CONFIG_TMPFS", "/tmp"),
        ("CONFIG_PROC_FS", "/proc"),
        ("CONFIG_SYSFS", "/sys and bpffs"),
        ("CONFIG_DEBUG_FS", "/sys/kernel/debug"),
        ("CONFIG_PRINTK", "the console log"),
        ("CONFIG_SERIAL_8250_CONSOLE", "the console on ttyS0"),
        ("CONFIG_VIRTIO_PCI", "the results port"),
        ("CONFIG_VIRTIO_CONSOLE", "the results port"),
        ("CONFIG_MAGIC_SYSRQ", "fixture/crash"),
        ("CONFIG_ACPI", "a second CPU: QEMU's MP table lists only the boot CPU"),
    ]

    /// The required options `config` (a resolved `.config`) does not set.
    public static func missing(in config: KernelConfig) -> [(name: String, why: String)] {
        let values = config.values
        return options.filter { values[$0.name] != "y" }
    }

    /// The refusal: which options are missing, why each is needed.
    static func error(_ missing: [(name: String, why: String)], config: KernelConfig)
        -> SelftestError
    {
        let list = missing.map { "\($0.name) (\($0.why))" }.joined(separator: ", ")
        var fix = "drop the fragment that turns them off, or add them in a fragment of your own"
        if missing.contains(where: { $0.name == "CONFIG_DEBUG_INFO_BTF" }),
            (Int(config.value(of: "CONFIG_PAHOLE_VERSION")) ?? 0) < 116
        {
            fix = "install pahole 1.16 or later (scripts/setup.sh does); then " + fix
        }
        return SelftestError(
            .usage, .options, "the kernel config lacks what the suite needs: \(list)", fix: fix)
    }
}

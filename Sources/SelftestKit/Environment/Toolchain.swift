import Foundation

/// The external tools the runner needs, found and checked once up front.
public struct Toolchain: Sendable {
    public var qemu: String
    public var clang: String
    public var clangVersion: String
    public var bpftool: String
    public var busybox: String
    /// binutils' strip, for the ELFs that go into the guest image.
    public var strip: String = "strip"
    /// LLVM's objcopy, which knows the BPF ELF that binutils does not: it
    /// takes the DWARF out of the compiled programs.
    public var objcopy: String = "llvm-objcopy"
    /// Directory holding libbpf's BPF-side headers (`bpf/bpf_helpers.h`).
    public var libbpfIncludeDirectory: String

    /// One missing piece: what it is and the package that provides it.
    public struct Missing: Sendable, Equatable {
        public var what: String
        public var package: String
    }

    /// Finds every tool; throws one error naming everything missing and the
    /// single apt command that installs it all.
    public static func discover(
        runner: CommandRunning = SystemRunner(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        digests: FileDigests? = nil
    ) throws -> Toolchain {
        var missing: [Missing] = []
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        func find(_ name: String, override: String?, package: String) -> String {
            if let override, !override.isEmpty { return override }
            if let found = which(name, path: path) { return found }
            missing.append(Missing(what: name, package: package))
            return name
        }
        let qemu = find(
            "qemu-system-x86_64", override: environment["SELFTESTS_QEMU"],
            package: "qemu-system-x86")
        let clang = find("clang", override: environment["SELFTESTS_CLANG"], package: "clang")
        let bpftool = find(
            "bpftool", override: environment["SELFTESTS_BPFTOOL"], package: "bpftool")
        let strip = find("strip", override: environment["SELFTESTS_STRIP"], package: "binutils")
        // The objcopy of clang's own LLVM first: it reads what that clang wrote.
        let objcopy = find(
            beside(clang, "llvm-objcopy") ?? "llvm-objcopy",
            override: environment["SELFTESTS_OBJCOPY"], package: "llvm")
        let busybox =
            ["/bin/busybox", "/usr/bin/busybox"].first { isStaticBusybox($0) }
            ?? {
                missing.append(Missing(what: "a static busybox", package: "busybox-static"))
                return "/bin/busybox"
            }()
        let include = "/usr/include"
        if !FileManager.default.fileExists(atPath: include + "/bpf/bpf_helpers.h") {
            missing.append(
                Missing(what: "libbpf headers (bpf/bpf_helpers.h)", package: "libbpf-dev"))
        }
        for tool in ["zstd", "xz"] where which(tool, path: path) == nil {
            missing.append(Missing(what: tool, package: tool == "xz" ? "xz-utils" : tool))
        }
        if !missing.isEmpty { throw missingError(missing) }

        // clang's answer is remembered for this very binary (path, size,
        // mtime, inode): two probes cost 150 ms of every run.
        let probe = {
            let version = try runner.run(Command(clang, ["--version"]), timeout: 30)
            let targets = try runner.run(Command(clang, ["-print-targets"]), timeout: 30)
            guard version.succeeded, targets.stdoutText.contains("bpf") else {
                throw SelftestError(
                    .environment, .machine,
                    "\(clang) cannot compile for the BPF target (-print-targets lists no bpf)",
                    fix:
                        "install a clang with the BPF backend: apt-get install clang, or set SELFTESTS_CLANG"
                )
            }
            return version.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        }
        let clangVersion =
            try digests?.remembered("clang --version, with a bpf target", of: clang, probe)
            ?? probe()
        return Toolchain(
            qemu: qemu, clang: clang, clangVersion: clangVersion,
            bpftool: bpftool, busybox: busybox, strip: strip, objcopy: objcopy,
            libbpfIncludeDirectory: include)
    }

    /// `tool` in the directory `program` really lives in (after symlinks),
    /// when it is there.
    static func beside(_ program: String, _ tool: String) -> String? {
        guard program.contains("/") else { return nil }
        let candidate = URL(fileURLWithPath: program).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(tool).path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    static func missingError(_ missing: [Missing]) -> SelftestError {
        let packages = Array(Set(missing.map(\.package))).sorted()
        return SelftestError(
            .environment, .machine,
            "missing: " + missing.map(\.what).joined(separator: ", "),
            fix: "run scripts/setup.sh, or: apt-get install " + packages.joined(separator: " "))
    }

    public static func which(_ name: String, path: String) -> String? {
        if name.contains("/") {
            return FileManager.default.isExecutableFile(atPath: name) ? name : nil
        }
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The guest has no libc of busybox's own: it must be the static build.
    static func isStaticBusybox(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path),
            let head = try? handle.read(upToCount: 1 << 16)
        else { return false }
        try? handle.close()
        // A dynamically linked ELF names its interpreter in a PT_INTERP segment.
        return head.starts(with: [0x7f, 0x45, 0x4c, 0x46])
            && head.range(of: Data("ld-linux".utf8)) == nil
    }
}

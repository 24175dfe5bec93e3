import Foundation
import SelftestCatalog

/// The initramfs the VM boots: init, busybox, the guest agent with its
/// shared-library closure, and the compiled BPF objects.
public struct GuestImage: Sendable {
    /// The cached base archive (everything but the plan).
    public var base: URL
    public var cached: Bool
    /// Archives appended after the base: the tree's test_progs when a run
    /// selected some of its tests (only then, so other boots stay small).
    public var extras: [URL] = []

    /// What the init script mounts, in order, with one `mount -a`: a
    /// process per mount cost 40–50 ms each under TCG, 0.3–0.5 s a boot.
    /// A mount that fails says so on the console and the others go on (a
    /// kernel built without tracefs only loses that one).
    static let fstab = """
        proc /proc proc defaults 0 0
        sysfs /sys sysfs defaults 0 0
        devtmpfs /dev devtmpfs defaults 0 0
        tmpfs /tmp tmpfs defaults 0 0
        bpf /sys/fs/bpf bpf defaults 0 0
        cgroup2 /sys/fs/cgroup cgroup2 defaults 0 0
        debugfs /sys/kernel/debug debugfs defaults 0 0
        tracefs /sys/kernel/tracing tracefs defaults 0 0

        """

    /// The busybox applets the init script and tests call.
    static let applets = [
        "sh", "mount", "mkdir", "ip", "reboot", "cat", "echo", "ls", "sleep", "dmesg",
    ]

    /// The init script: mount the filesystems BPF tests need, bring up
    /// loopback, run the agent, end the VM. Runs as PID 1. It ends with a
    /// reset, which QEMU's `-no-reboot` turns into an exit: unlike a power
    /// off, that needs no ACPI in the guest kernel (without it, `poweroff -f`
    /// only halts the CPU and the VM would sit until its time bound).
    static let initScript = """
        #!/bin/sh
        export PATH=/bin
        mount -a
        ip link set lo up
        echo "<5>selftests: init ready" > /dev/kmsg
        LD_LIBRARY_PATH=/lib /bin/selftests-guest /selftests/plan
        echo "<5>selftests: agent exited $?" > /dev/kmsg
        reboot -f
        """

    /// Builds (or finds) the base image for these inputs.
    public static func make(
        agent: String, objects: [String: URL], toolchain: Toolchain, cache: Cache,
        digests: FileDigests, runner: CommandRunning = SystemRunner(),
        pins: ImagePins? = nil, note: (String) -> Void = { _ in }
    ) throws -> GuestImage {
        guard FileManager.default.isExecutableFile(atPath: agent) else {
            throw SelftestError(
                .usage, .runner, "guest agent \(agent) does not exist",
                fix: "build it with `swift build --product selftests-guest`, or pass --agent PATH")
        }
        let libraries = try closure(of: agent, runner: runner, digests: digests)
        var hasher = SHA256()
        // Versioned: an image built before the ELFs were stripped is not reused.
        hasher.update("stripped-1\n")
        hasher.update(initScript)
        hasher.update(fstab)
        for path in [agent, toolchain.busybox] + libraries {
            hasher.update(path)
            hasher.update(try digests.digest(of: path))
        }
        for (name, url) in objects.sorted(by: { $0.key < $1.key }) {
            hasher.update(name)
            hasher.update(try digests.digest(of: url.path))
        }
        let base = cache.entry("images", hasher.finalize() + ".cpio")
        // Held before the lookup: a prune never takes it from under this run.
        let pin = ImagePin.pin(base)
        pins?.keep(pin)
        if Cache.intact(base, digests: digests, note: note) {
            return GuestImage(base: base, cached: true)
        }

        var cpio = CPIOWriter()
        for dir in [
            "bin", "etc", "lib", "lib64", "dev", "proc", "sys", "tmp", "progs", "selftests", "root",
        ] {
            cpio.directory(dir)
        }
        cpio.file("etc/fstab", contents: Data(fstab.utf8))
        cpio.characterDevice("dev/console", major: 5, minor: 1)
        cpio.characterDevice("dev/null", major: 1, minor: 3, mode: 0o666)
        cpio.file("init", contents: Data(initScript.utf8), mode: 0o755)
        cpio.file("bin/busybox", contents: try read(toolchain.busybox), mode: 0o755)
        for applet in applets { cpio.symlink("bin/\(applet)", target: "busybox") }
        let stripper = ELFStripper(strip: toolchain.strip, runner: runner, cache: cache)
        cpio.file("bin/selftests-guest", contents: try stripper.stripped(agent), mode: 0o755)
        for library in libraries {
            let name = URL(fileURLWithPath: library).lastPathComponent
            let dir = name.hasPrefix("ld-linux") ? "lib64" : "lib"
            cpio.file("\(dir)/\(name)", contents: try stripper.stripped(library), mode: 0o755)
        }
        for (name, url) in objects.sorted(by: { $0.key < $1.key }) {
            cpio.file("progs/\(name).bpf.o", contents: try read(url.path))
        }
        try Cache.writeRecorded(cpio.finish(), to: base)
        return GuestImage(base: base, cached: false)
    }

    /// The plan archive: which tests to run, with their bounds, and for a
    /// test_progs entry its arguments (separated by U+001F, which no
    /// argument holds).
    public static func planArchive(_ tests: [TestSpec]) -> Data {
        var cpio = CPIOWriter()
        cpio.directory("selftests")
        cpio.file("selftests/plan", contents: Data(PlannedTest.plan(tests).utf8))
        return cpio.finish()
    }

    /// Writes base + extras + plan as one initrd (the kernel unpacks
    /// concatenated archives in order). The base is copied by FileManager
    /// (20 ms for 17 MB here), not read into memory and written back
    /// (90–190 ms): every boot pays for it.
    public func initrd(plan: Data, at url: URL) throws {
        try Cache.produce(url) { temp in
            try FileManager.default.copyItem(at: base, to: temp)
            let handle = try FileHandle(forWritingTo: temp)
            defer { try? handle.close() }
            try handle.seekToEnd()
            for extra in extras { try handle.write(contentsOf: try Data(contentsOf: extra)) }
            try handle.write(contentsOf: plan)
        }
    }

    /// The shared libraries `binary` loads, as `ldd` resolves them;
    /// remembered in `digests` for this very binary while every library
    /// is still where ldd found it.
    static func closure(
        of binary: String, runner: CommandRunning, digests: FileDigests? = nil
    ) throws -> [String] {
        let ldd = {
            let result = try runner.run(Command("ldd", [binary]), timeout: 60)
            guard result.succeeded else {
                throw SelftestError(
                    .infrastructure, .runner, "ldd \(binary) failed: \(result.stderrText)")
            }
            return parseLdd(result.stdoutText).joined(separator: "\n")
        }
        func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }
        guard let digests else { return lines(try ldd()) }
        let kind = "ldd closure"
        let remembered = lines(try digests.remembered(kind, of: binary, ldd))
        if remembered.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            return remembered
        }
        digests.forget(kind, of: binary)
        return lines(try digests.remembered(kind, of: binary, ldd))
    }

    /// Paths from ldd output: `libx.so => /path (0x...)` and `/lib64/ld-linux... (0x...)`.
    static func parseLdd(_ text: String) -> [String] {
        var paths: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count,
                words[arrow + 1].hasPrefix("/")
            {
                paths.append(words[arrow + 1])
            } else if let first = words.first?.trimmingCharacters(in: .whitespaces),
                first.hasPrefix("/")
            {
                paths.append(first)
            }
        }
        return paths
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SelftestError(.infrastructure, .runner, "cannot read \(path) for the guest image")
        }
        return data
    }
}

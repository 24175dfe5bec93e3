import Foundation

/// The archive that brings the tree's test_progs into the guest, appended to
/// the base image only for a run that selected some of its tests: the
/// stripped binary, the libraries it loads, the files the selected tests read
/// at run time, the deny list, the kernel's config (libbpf resolves a
/// program's `extern CONFIG_*` from `/boot/config-<release>`), and the
/// busybox commands tests run through `system()`.
///
/// An initramfs rather than a disk image: Debian's kernel has virtio-blk,
/// squashfs and erofs as modules only, which a guest without modules cannot
/// mount; and with only the files the selection needs the archive stays
/// near 19 MB uncompressed (test_progs carries its ~800 programs as
/// skeletons), which measured +2.3 s of boot (median of 3).
public struct TestProgsPayload {
    /// Files of the build output every selection carries (small helpers).
    static let alwaysCarried = [
        "urandom_read", "liburandom_read.so", "ima_setup.sh", "verify_sig_setup.sh",
    ]
    /// Files carried only when a selected test's source names them (large).
    static let carriedWhenNamed = ["uprobe_multi", "xdp_synproxy", "sign-file"]
    /// busybox applets tests call (`system("cp /bin/rm …")`, `ip`, `tc`…)
    /// beyond the ones the base image links.
    static let applets = [
        "cp", "mv", "ln", "chmod", "touch", "true", "false", "grep", "sed", "awk", "head",
        "tail", "wc", "kill", "sh", "env", "uname", "mount", "umount", "stat", "printf", "test",
    ]
    /// Host programs carried as real binaries: `test_local_storage` copies
    /// `/bin/rm` elsewhere and runs the copy, which a busybox link (named
    /// by its new name) cannot be.
    static let hostPrograms = ["/usr/bin/rm"]
    /// coreutils' stdbuf preload: the agent runs test_progs line-buffered
    /// with it, so that what a test printed reaches the host as it prints
    /// it (and survives a kill at the test's bound).
    static let lineBuffering = "/usr/libexec/coreutils/libstdbuf.so"
    static let guestDirectory = "test_progs"
    public static let denyPath = "/test_progs/deny"

    /// The files a selection needs from `product.output`, by name.
    static func files(for tests: [String], product: TestProgsProduct) throws -> [String] {
        let fm = FileManager.default
        let outputFiles = Set(try fm.contentsOfDirectory(atPath: product.output.path))
        let testsDirectory = product.selftests.appendingPathComponent("prog_tests")
        var sources = ""
        for file in (try? fm.contentsOfDirectory(atPath: testsDirectory.path)) ?? []
        where file.hasSuffix(".c") {
            let text =
                (try? String(
                    contentsOf: testsDirectory.appendingPathComponent(file), encoding: .utf8))
                ?? ""
            if TestProgsBreakage.testNames(in: text).contains(where: tests.contains) {
                sources += text
            }
        }
        var names = alwaysCarried.filter(outputFiles.contains)
        names += carriedWhenNamed.filter { outputFiles.contains($0) && sources.contains($0) }
        names += outputFiles.filter { $0.hasPrefix("btf_dump_test_case_") }
        // Objects a test opens by file name ("test_pkt_access.bpf.o"); the
        // rest are inside test_progs as skeletons.
        names += outputFiles.filter { $0.hasSuffix(".bpf.o") && sources.contains($0) }
        return names.sorted()
    }

    /// Builds (or finds) the archive; cached by the content of what it holds.
    public static func make(
        product: TestProgsProduct, tests: [String], deny: [String], kernelConfig: String?,
        release: String?, cache: Cache, digests: FileDigests,
        runner: CommandRunning = SystemRunner(), pins: ImagePins? = nil,
        note: (String) -> Void = { _ in }
    ) throws -> URL {
        let binary = product.output.appendingPathComponent("test_progs").path
        let stripped = try strip(binary, cache: cache, digests: digests, runner: runner)
        let files = try files(for: tests, product: product)
        var libraries = try GuestImage.closure(of: binary, runner: runner)
        for program in hostPrograms {
            libraries += try GuestImage.closure(of: program, runner: runner)
        }
        libraries = Array(Set(libraries)).sorted()
        let denyText = deny.map { $0 + "\n" }.joined()
        let configName = "boot/config-\(release ?? "unknown")"

        var hasher = SHA256()
        hasher.update("test-progs-payload-1\n\(denyText)\n\(configName)\n")
        for path in [stripped.path, lineBuffering] + hostPrograms + libraries
            + files.map({ product.output.appendingPathComponent($0).path })
            + (kernelConfig.map { [$0] } ?? [])
        {
            hasher.update(path)
            hasher.update(try digests.digest(of: path))
        }
        let archive = cache.entry("images", "test-progs-" + hasher.finalize() + ".cpio")
        // Held before the lookup: a prune never takes it from under this run.
        let pin = ImagePin.pin(archive)
        pins?.keep(pin)
        if Cache.intact(archive, digests: digests, note: note) { return archive }

        var cpio = CPIOWriter()
        cpio.directory(guestDirectory)
        cpio.directory("boot")
        cpio.file("\(guestDirectory)/test_progs", contents: try read(stripped.path), mode: 0o755)
        for name in files {
            let path = product.output.appendingPathComponent(name).path
            let executable = FileManager.default.isExecutableFile(atPath: path)
            cpio.file(
                "\(guestDirectory)/\(name)", contents: try read(path),
                mode: executable ? 0o755 : 0o644)
        }
        cpio.file(String(denyPath.dropFirst()), contents: Data(denyText.utf8))
        for library in libraries {
            let name = URL(fileURLWithPath: library).lastPathComponent
            let dir = name.hasPrefix("ld-linux") ? "lib64" : "lib"
            cpio.file("\(dir)/\(name)", contents: try read(library), mode: 0o755)
        }
        if let kernelConfig {
            cpio.file(configName, contents: try read(kernelConfig))
        }
        for applet in applets { cpio.symlink("bin/\(applet)", target: "busybox") }
        for program in hostPrograms {
            let name = URL(fileURLWithPath: program).lastPathComponent
            cpio.file("bin/\(name)", contents: try read(program), mode: 0o755)
        }
        cpio.file("lib/libstdbuf.so", contents: try read(lineBuffering), mode: 0o755)
        try Cache.writeRecorded(cpio.finish(), to: archive)
        return archive
    }

    /// test_progs without its debug sections (21 MB → 16 MB on 6.12; the
    /// programs it embeds are data and stay). Kept next to the build.
    static func strip(_ binary: String, cache: Cache, digests: FileDigests, runner: CommandRunning)
        throws -> URL
    {
        let output = URL(fileURLWithPath: binary).deletingLastPathComponent()
            .appendingPathComponent("test_progs.stripped")
        let stamp = output.appendingPathExtension("source")
        let digest = try digests.digest(of: binary)
        if Cache.exists(output), (try? String(contentsOf: stamp, encoding: .utf8)) == digest {
            return output
        }
        let result = try runner.run(
            Command("strip", ["--strip-debug", "-o", output.path, binary]), timeout: 120)
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure, .runner, "strip \(binary) failed: \(result.stderrText)")
        }
        try Cache.write(Data(digest.utf8), to: stamp)
        return output
    }

    private static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SelftestError(.infrastructure, .runner, "cannot read \(path) for the guest image")
        }
        return data
    }
}

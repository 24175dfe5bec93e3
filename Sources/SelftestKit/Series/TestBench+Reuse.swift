import Foundation

extension TestBench {
    /// The inputs of a step's verdicts besides its tree, one line each,
    /// digested: the config fragments and the kernel's compiler; the tests
    /// with their bounds, and the tree's test_progs selection; the
    /// programs' sources and clang; the agent and busybox of the guest
    /// image; the machine. Nil when one of them cannot be read (then
    /// nothing is reused). Not in it: the system's libbpf and QEMU (after
    /// upgrading them, `--fresh`).
    public var reuseInputs: String? {
        do {
            var lines: [String] = []
            for spec in [ConfigFragment.baseName] + options.configs {
                // The tree's own selftests config is part of the tree's hash.
                if spec == ConfigFragment.treeSelftestsName {
                    lines.append("config \(spec)")
                    continue
                }
                let fragment = try ConfigFragment.resolve(
                    spec, tree: URL(fileURLWithPath: "/"),
                    directory: ConfigFragment.defaultDirectory)
                var hasher = SHA256()
                hasher.update(fragment.text)
                lines.append("config \(fragment.name) \(hasher.finalize())")
            }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            let gcc = Toolchain.which("gcc", path: path)
            lines.append("gcc " + (try gcc.map { try digests.digest(of: $0) } ?? "none"))
            lines += tests.map { "test \($0.name) \($0.timeoutSeconds)" }
            lines.append("test_progs \(options.testProgs ?? "-")")
            if let deny = options.testProgsDeny {
                lines.append("test_progs deny \(try digests.digest(of: deny))")
            }
            let progs = options.progsDirectory ?? RunPipeline.defaultProgsDirectory
            lines += try Self.files(under: progs).map { relative in
                "prog \(relative) \(try digests.digest(of: progs.appendingPathComponent(relative).path))"
            }
            lines.append("clang \(toolchain.clangVersion)")
            lines.append(
                "agent \(try digests.digest(of: options.agent ?? RunPipeline.defaultAgent))")
            lines.append("busybox \(try digests.digest(of: toolchain.busybox))")
            lines.append(
                "machine \(options.accelerator.rawValue) \(options.tcgThreading.rawValue) "
                    + "cpus \(options.cpus) memory \(options.memoryMiB)")
            var hasher = SHA256()
            hasher.update(lines.joined(separator: "\n"))
            return hasher.finalize()
        } catch {
            observer.note("results are not reused: \(error)")
            return nil
        }
    }

    /// Every regular file under `directory`, as sorted relative paths.
    static func files(under directory: URL) throws -> [String] {
        let base = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw SelftestError(.usage, .options, "cannot read \(base)")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(
                atPath: base + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue
            {
                files.append(relative)
            }
        }
        return files.sorted()
    }
}

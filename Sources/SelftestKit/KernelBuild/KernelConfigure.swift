import Foundation

/// Makes the `.config` of a build directory: `tinyconfig`, the fragments
/// merged on top by the tree's own `merge_config.sh`, then `olddefconfig`;
/// and checks the result before anything is compiled.
public struct KernelConfigure: Sendable {
    public var tree: URL
    public var output: URL
    public var fragments: [ConfigFragment]
    public var make: String = "make"

    public init(tree: URL, output: URL, fragments: [ConfigFragment], make: String = "make") {
        self.tree = tree
        self.output = output
        self.fragments = fragments
        self.make = make
    }

    /// x86_64 always: with the host's `ARCH=x86`, tinyconfig picks a 32-bit kernel.
    static let arch = "ARCH=x86_64"

    /// make's arguments common to every step.
    public var makeArguments: [String] {
        ["-C", tree.path, "O=\(output.path)", Self.arch]
    }

    /// The three commands, in order. `merge_config.sh` writes temporary
    /// files into its working directory, hence `env -C` into the output.
    public var commands: [Command] {
        let merge = tree.appendingPathComponent("scripts/kconfig/merge_config.sh").path
        return [
            Command(make, makeArguments + ["-s", "tinyconfig"]),
            Command(
                "env",
                ["-C", output.path, "sh", merge, "-m", "-O", output.path, ".config"]
                    + fragments.map(\.path)),
            Command(make, makeArguments + ["-s", "olddefconfig"]),
        ]
    }

    /// Runs the commands, appending their output to `log`.
    public func run(runner: CommandRunning, log: URL) throws {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var transcript = Data()
        defer { try? Cache.write(transcript, to: log) }
        for command in commands {
            transcript.append(Data("$ \(command)\n".utf8))
            let result = try runner.run(command, timeout: 600)
            transcript.append(result.stdout)
            transcript.append(result.stderr)
            guard result.succeeded else {
                let said = (result.stderrText + result.stdoutText)
                    .split(whereSeparator: \.isNewline).suffix(6).joined(separator: "\n")
                throw SelftestError(
                    .usage, .tree, "configuring the kernel failed at `\(command)`:\n\(said)",
                    fix: "see \(log.path); is \(tree.path) a kernel source tree for x86_64?")
            }
        }
    }

    /// The check: what the fragments asked for that `.config` does not have.
    public struct Check: Sendable {
        /// Requested options that did not take (a dependency is missing, or
        /// the symbol does not exist in this tree).
        public var unmet: [KernelConfig.Mismatch]
        /// Options the suite cannot run without, absent from `.config`.
        public var missingRequired: [(name: String, why: String)]
        public var resolved: KernelConfig
        /// SHA-256 of the `.config` text.
        public var hash: String
    }

    public static func check(config text: String, fragments: [ConfigFragment]) -> Check {
        let resolved = KernelConfig(parsing: text)
        let requested = KernelConfig.requested(by: fragments.map(\.config))
        var hasher = SHA256()
        hasher.update(text)
        return Check(
            unmet: resolved.unmet(requested),
            missingRequired: SuiteRequirements.missing(in: resolved),
            resolved: resolved, hash: hasher.finalize())
    }

    /// Reads `.config` and checks it; throws when the suite could not run on it.
    public func check() throws -> Check {
        let url = output.appendingPathComponent(".config")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SelftestError(
                .infrastructure, .tree, "no .config in \(output.path) after configuring")
        }
        let result = Self.check(config: String(decoding: data, as: UTF8.self), fragments: fragments)
        if !result.missingRequired.isEmpty {
            throw SuiteRequirements.error(result.missingRequired, config: result.resolved)
        }
        return result
    }

    /// Whether `tree` looks like a kernel source tree that can build out of tree.
    public static func validate(tree: URL) throws {
        let fm = FileManager.default
        let input = "--tree \(tree.path)"
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: tree.path, isDirectory: &isDirectory) else {
            throw SelftestError(
                .usage, "the kernel tree \(tree.path) does not exist",
                fix: "check the --tree path (the top of a Linux checkout), or omit --tree "
                    + "for Debian's 6.12", domain: .tree, input: input)
        }
        guard isDirectory.boolValue else {
            throw SelftestError(
                .usage, "the kernel tree \(tree.path) is a file, not a directory",
                fix: "pass the top directory of a Linux checkout with --tree", domain: .tree,
                input: input)
        }
        for file in ["Makefile", "Kconfig", "scripts/kconfig/merge_config.sh", "arch/x86"]
        where !fm.fileExists(atPath: tree.appendingPathComponent(file).path) {
            throw SelftestError(
                .usage, "\(tree.path) is not a kernel source tree (no \(file))",
                fix: "pass the top of a Linux tree with --tree, or omit it for Debian's 6.12",
                domain: .tree, input: input)
        }
        // Kbuild refuses O= builds of a tree configured in place.
        if fm.fileExists(atPath: tree.appendingPathComponent(".config").path)
            || fm.fileExists(atPath: tree.appendingPathComponent("include/config").path)
        {
            throw SelftestError(
                .usage, "\(tree.path) has been configured or built in place",
                fix: "run `make mrproper` in it (the runner builds out of tree, under its cache)",
                domain: .tree, input: input)
        }
    }
}

import Foundation

/// What to build: a tree, the config fragments on top of `bpf-minimal`, how.
public struct KernelBuildRequest: Sendable {
    public var tree: URL
    /// `--config` values: fragment names, `selftests`, or file paths.
    public var configs: [String] = []
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// Seconds the whole make may take.
    public var timeout: Double = 3 * 3600
    public var configDirectory = ConfigFragment.defaultDirectory

    public init(tree: URL, configs: [String] = []) {
        self.tree = tree
        self.configs = configs
    }
}

/// A built kernel: what QEMU boots, what BTF comes from, and what it was built from.
public struct KernelBuildProduct: Sendable, Codable, Equatable {
    public var bzImage: String
    public var vmlinux: String
    public var tree: String
    /// `git rev-parse HEAD` of the tree; nil outside git.
    public var commit: String?
    /// Whether tracked files differed from the commit.
    public var dirty: Bool?
    public var fragments: [String]
    /// SHA-256 of the `.config` the kernel was built with.
    public var configHash: String
    public var release: String?
    /// Requested options that did not take, as `CONFIG_X=y (got not set)`.
    public var unmetOptions: [String]
    public var seconds: Double
    /// CPU seconds make and the compilers used (wall time on a busy machine
    /// says little; this says what an idle one would need).
    public var cpuSeconds: Double
    /// Kbuild steps this build ran (0: nothing to do).
    public var steps: Int
    public var log: String
}

/// A build that did not produce a kernel: its first error and where the log is.
public struct KernelBuildFailure: Sendable, Codable, Equatable {
    public var error: BuildError
    public var log: String
    public var seconds: Double
    public var tree: String
    public var commit: String?

    /// The `build-error` message each test of the run carries.
    public var message: String {
        var text = "the kernel did not build: \(error)"
        for line in error.context.prefix(3) where !line.allSatisfy(\.isWhitespace) {
            text += "\n  " + line
        }
        return text + "\nbuild log: \(log)"
    }
}

/// How a build ended.
public enum KernelBuildResult: Sendable {
    case built(KernelBuildProduct)
    case failed(KernelBuildFailure)
}

/// Builds a kernel tree out of tree (`O=`) in a cache directory kept per
/// (tree, config), with ccache, so the next build redoes only what changed.
public struct KernelBuilder: Sendable {
    public var request: KernelBuildRequest
    public var cache: Cache
    /// Runs git and make's config targets, starts the build's make, and
    /// keeps its time.
    public var host: HostContext

    public init(request: KernelBuildRequest, cache: Cache, host: HostContext = .live) {
        self.request = request
        self.cache = cache
        self.host = host
    }

    /// Steps of a build from scratch of `bpf-minimal` on 6.12, as measured
    /// here: the bar's estimate before this cache has recorded one of its own.
    static let firstBuildSteps = 1962

    /// The make of the kernel itself.
    public static func makeCommand(
        tools: BuildTools, tree: URL, output: URL, jobs: Int, environment: [String: String]
    ) -> Command {
        Command(
            tools.make,
            [
                "-C", tree.path, "O=\(output.path)", KernelConfigure.arch, "-j\(max(1, jobs))",
                "CC=\(tools.compiler)", "bzImage",
            ],
            environment: environment)
    }

    /// Configures if needed, checks the config, builds. A compile error is a
    /// `.failed` result; a missing tool, a bad tree or a config the suite
    /// cannot use throws.
    public func build(observer: KernelBuildObserver) throws -> KernelBuildResult {
        let tree = request.tree.standardizedFileURL
        try KernelConfigure.validate(tree: tree)
        let tools = try BuildTools.discover()
        let fragments = try ConfigFragment.resolve(
            request.configs, tree: tree, directory: request.configDirectory)
        let directory = BuildDirectory.locate(tree: tree, fragments: fragments, cache: cache)
        return try directory.withLock(
            timeout: request.timeout,
            waiting: { observer.note("waiting for another build in \(directory.root.path)") }
        ) {
            try build(
                tree: tree, tools: tools, fragments: fragments, in: directory, observer: observer)
        }
    }

    func build(
        tree: URL, tools: BuildTools, fragments: [ConfigFragment], in directory: BuildDirectory,
        observer: KernelBuildObserver
    ) throws -> KernelBuildResult {
        let identity = TreeIdentity.read(tree, git: tools.git, runner: host.runner)
        let names = fragments.map(\.name).joined(separator: " + ")
        observer.note("kernel tree \(tree.path)\(identity.label), config \(names)")
        let configure = KernelConfigure(
            tree: tree, output: directory.output, fragments: fragments, make: tools.make)
        if !directory.isConfigured(for: fragments) {
            directory.forgetConfiguration()
            let again = directory.hasKernel ? "the fragments changed; re" : ""
            observer.note("\(again)configuring: tinyconfig + \(names), olddefconfig")
            try configure.run(runner: host.runner, log: directory.configLog)
        }
        let check = try configure.check()
        try directory.markConfigured(for: fragments)
        if !check.unmet.isEmpty {
            observer.note(
                "\(check.unmet.count) requested option(s) did not take: "
                    + check.unmet.map(\.description).joined(separator: ", "))
        }

        let clean = !directory.hasKernel
        let estimateFile = cache.entry("kbuild", "clean-steps")
        let inherited = ProcessInfo.processInfo.environment
        let make = MakeProcess(
            command: Self.makeCommand(
                tools: tools, tree: tree, output: directory.output, jobs: request.jobs,
                environment: tools.environment(cache: cache, inherited: inherited)),
            log: directory.log, timeout: request.timeout, host: host)
        observer.note(
            "building \(clean ? "from scratch" : "incrementally") in \(directory.output.path)")
        let outcome = try make.run(
            estimate: clean
                ? directory.cleanSteps(fallback: estimateFile) ?? Self.firstBuildSteps : nil,
            parser: BuildOutput(stripping: [tree.path, directory.output.path]), observer: observer)
        let took = BuildStatus.duration(outcome.seconds)

        guard outcome.status == 0 else {
            var error = outcome.output.failure
            if outcome.timedOut {
                error = BuildError(
                    file: nil, line: nil,
                    message: "make did not finish within \(Int(request.timeout)) s")
            }
            observer.note("kernel build failed after \(took): \(error)")
            return .failed(
                KernelBuildFailure(
                    error: error, log: directory.log.path, seconds: outcome.seconds,
                    tree: tree.path, commit: identity.commit))
        }
        if clean { directory.recordCleanSteps(outcome.output.steps, fallback: estimateFile) }
        let product = KernelBuildProduct(
            bzImage: directory.output.appendingPathComponent("arch/x86/boot/bzImage").path,
            vmlinux: directory.output.appendingPathComponent("vmlinux").path,
            tree: tree.path, commit: identity.commit, dirty: identity.dirty,
            fragments: fragments.map(\.name), configHash: check.hash,
            release: try? String(
                contentsOf: directory.output.appendingPathComponent(
                    "include/config/kernel.release"),
                encoding: .utf8
            ).trimmingCharacters(in: .whitespacesAndNewlines),
            unmetOptions: check.unmet.map(\.description), seconds: outcome.seconds,
            cpuSeconds: outcome.cpuSeconds,
            steps: outcome.output.steps, log: directory.log.path)
        for file in [product.bzImage, product.vmlinux]
        where !Cache.exists(URL(fileURLWithPath: file)) {
            throw SelftestError(.infrastructure, .tree, "make succeeded but left no \(file)")
        }
        try Cache.write(try DocumentJSON.data(product), to: directory.manifest)
        let what = outcome.output.steps == 0 ? "up to date" : "built \(outcome.output.steps) steps"
        observer.note(
            "kernel \(product.release ?? "?"): \(what) in \(took) "
                + "(CPU \(BuildStatus.duration(outcome.cpuSeconds)))")
        return .built(product)
    }
}

/// Which commit a tree is at, and whether its tracked files differ from it.
public struct TreeIdentity: Sendable, Equatable {
    public var commit: String?
    public var dirty: Bool?

    /// ` at 1a2b3c4d5e6f (modified)`, or nothing outside git.
    public var label: String {
        guard let commit else { return "" }
        return " at \(commit.prefix(12))" + (dirty == true ? " (modified)" : "")
    }

    static func read(_ tree: URL, git: String?, runner: CommandRunning) -> TreeIdentity {
        guard let git, Cache.exists(tree.appendingPathComponent(".git")) else {
            return TreeIdentity()
        }
        let repository = Git(tree, executable: git, runner: runner)
        guard let head = try? repository.commit("HEAD") else { return TreeIdentity() }
        return TreeIdentity(commit: head, dirty: (try? repository.isDirty()) ?? true)
    }
}

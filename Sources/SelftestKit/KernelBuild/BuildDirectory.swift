import Foundation

/// The cache directory of one (tree, config) pair: the `O=` build directory,
/// the last build's log and record, and a lock so two runs never build into
/// it at once. Keeping it is what makes the next build incremental.
public struct BuildDirectory: Sendable {
    /// `<cache>/kbuild/<tree>-<configs>-<hash>`.
    public var root: URL
    /// The `O=` directory make builds into.
    public var output: URL { root.appendingPathComponent("out") }
    public var log: URL { root.appendingPathComponent("build.log") }
    public var configLog: URL { root.appendingPathComponent("config.log") }
    /// The record of the last successful build (`KernelBuildProduct` as JSON).
    public var manifest: URL { root.appendingPathComponent("manifest.json") }
    /// The digest of the fragment texts the `.config` in `output` was made from.
    var configStamp: URL { root.appendingPathComponent("config.stamp") }
    /// Steps the last build from scratch took, for the next one's estimate.
    var stepsFile: URL { root.appendingPathComponent("clean-steps") }

    public init(root: URL) { self.root = root }

    /// The directory for `tree` built with `fragments`: keyed by the tree and
    /// the fragments' names (a file's absolute path), not their text, so that
    /// editing a fragment reconfigures the same directory and Kbuild rebuilds
    /// only what the changed options reach.
    public static func key(tree: String, fragments: [ConfigFragment]) -> String {
        var hasher = SHA256()
        hasher.update("selftests-kbuild-2\n\(tree)\n")
        for fragment in fragments {
            hasher.update("\(fragment.name)\n")
        }
        return hasher.finalize()
    }

    public static func locate(tree: URL, fragments: [ConfigFragment], cache: Cache)
        -> BuildDirectory
    {
        let treePath = tree.standardizedFileURL.resolvingSymlinksInPath().path
        let names = fragments.map { fragment -> String in
            let base = URL(fileURLWithPath: fragment.name).lastPathComponent
            return base.hasSuffix(".config") ? String(base.dropLast(7)) : base
        }
        let label = ([URL(fileURLWithPath: treePath).lastPathComponent] + names)
            .joined(separator: "-")
            .map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        let key = Self.key(tree: treePath, fragments: fragments)
        return BuildDirectory(root: cache.entry("kbuild", String(label) + "-" + key.prefix(12)))
    }

    /// Whether a build already produced a kernel here (the next one is incremental).
    public var hasKernel: Bool { Cache.exists(output.appendingPathComponent("vmlinux")) }

    /// What the `.config` was made from: the fragments' texts, in order.
    func stamp(for fragments: [ConfigFragment]) -> String {
        var hasher = SHA256()
        for fragment in fragments {
            hasher.update("\(fragment.name)\n\(fragment.text)\n")
        }
        return hasher.finalize()
    }

    /// Whether `output/.config` was made from exactly these fragments.
    func isConfigured(for fragments: [ConfigFragment]) -> Bool {
        guard Cache.exists(output.appendingPathComponent(".config")),
            let saved = try? String(contentsOf: configStamp, encoding: .utf8)
        else { return false }
        return saved == stamp(for: fragments)
    }

    func markConfigured(for fragments: [ConfigFragment]) throws {
        try Cache.write(Data(stamp(for: fragments).utf8), to: configStamp)
    }

    func forgetConfiguration() {
        try? FileManager.default.removeItem(at: configStamp)
    }

    /// The estimate for a build from scratch: this directory's last one, else
    /// the newest any directory recorded.
    func cleanSteps(fallback: URL) -> Int? {
        for url in [stepsFile, fallback] {
            if let text = try? String(contentsOf: url, encoding: .utf8),
                let steps = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), steps > 0
            {
                return steps
            }
        }
        return nil
    }

    func recordCleanSteps(_ steps: Int, fallback: URL) {
        for url in [stepsFile, fallback] { try? Cache.write(Data("\(steps)\n".utf8), to: url) }
    }

    /// Holds an exclusive lock on the directory while `body` runs; another run
    /// building the same tree and config waits (up to `timeout` seconds).
    func withLock<T>(timeout: Double, waiting: () -> Void, _ body: () throws -> T) throws -> T {
        try DirectoryLock.hold(root, timeout: timeout, waiting: waiting, body)
    }
}

import Foundation

/// The default tree: Debian's `linux-source-6.12` tarball unpacked once into
/// the cache as a git repository (one commit), so that a series applies to it
/// with `git am` and every later build knows which commit it built.
public enum KernelSource {
    public static let defaultTarball = "/usr/src/linux-source-6.12.tar.xz"

    /// Where the tree for `tarball` lives: `<cache>/src/linux-source-6.12`.
    public static func tree(for tarball: String, cache: Cache) -> URL {
        var name = URL(fileURLWithPath: tarball).lastPathComponent
        for suffix in [".xz", ".gz", ".zst", ".bz2", ".tar"] where name.hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
        }
        return cache.entry("src", name)
    }

    /// The tree, unpacked and committed on first use. Returns it and whether
    /// this call created it (minutes: xz, then `git add` of ~90 000 files).
    public static func ensure(
        tarball: String = defaultTarball, cache: Cache, runner: CommandRunning = SystemRunner(),
        note: (String) -> Void = { _ in }
    ) throws -> (tree: URL, created: Bool) {
        let tree = tree(for: tarball, cache: cache)
        if Cache.exists(tree.appendingPathComponent(".git")) { return (tree, false) }
        guard FileManager.default.fileExists(atPath: tarball) else {
            throw SelftestError(
                .environment, "no kernel source at \(tarball)",
                fix: "run scripts/setup.sh (it installs linux-source-6.12), or pass --tree DIR")
        }
        for tool in ["tar", "xz", "git"]
        where Toolchain.which(tool, path: ProcessInfo.processInfo.environment["PATH"] ?? "") == nil
        {
            throw SelftestError(
                .environment, "\(tool) is needed to unpack \(tarball)",
                fix: "run scripts/setup.sh, or: apt-get install \(tool == "xz" ? "xz-utils" : tool)"
            )
        }
        note("unpacking \(tarball) into \(tree.path) (once; a few minutes)")
        let stage = try cache.directory("src", ".stage-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: stage) }
        try check(
            runner.run(Command("tar", ["-xJf", tarball, "-C", stage.path]), timeout: 3600),
            "tar -xJf \(tarball)")
        let top = try FileManager.default.contentsOfDirectory(atPath: stage.path)
        guard top.count == 1 else {
            throw SelftestError(
                .usage, "\(tarball) does not hold a single top-level directory (found \(top.count))"
            )
        }
        let unpacked = stage.appendingPathComponent(top[0])
        try commit(
            unpacked, message: commitMessage(tarball: tarball), date: mtime(of: tarball),
            runner: runner)
        try FileManager.default.createDirectory(
            at: tree.deletingLastPathComponent(), withIntermediateDirectories: true)
        if rename(unpacked.path, tree.path) != 0 {
            // Another run finished first; its tree is as good as ours.
            if Cache.exists(tree.appendingPathComponent(".git")) { return (tree, false) }
            throw SelftestError(
                .infrastructure,
                "cannot move the unpacked tree to \(tree.path): \(String(cString: strerror(errno)))"
            )
        }
        return (tree, true)
    }

    /// `git init` and one commit of every file, with a fixed author and date
    /// so that the same tarball always gives the same commit id.
    static func commit(_ dir: URL, message: String, date: String, runner: CommandRunning) throws {
        let git = Git(dir, runner: runner)
        var identity = Git.identity
        identity["GIT_AUTHOR_DATE"] = date
        identity["GIT_COMMITTER_DATE"] = date
        try git.checked(["-c", "core.looseCompression=1", "init", "-q", "-b", "main"])
        // -f: the tarball is the source of truth, even files its .gitignore names.
        try git.checked(["-c", "core.looseCompression=1", "add", "-A", "-f"], timeout: 3600)
        try git.checked(
            ["commit", "-q", "--no-verify", "--no-gpg-sign", "-m", message],
            environment: identity, timeout: 3600)
    }

    static func commitMessage(tarball: String) -> String {
        """
        \(URL(fileURLWithPath: tarball).lastPathComponent), as Debian ships it

        Unpacked by `selftests kernel source` from \(tarball), so that patches
        apply with `git am` and each build records the commit it built.
        """
    }

    /// The tarball's modification time, as a git date (`@seconds +0000`).
    static func mtime(of path: String) -> String {
        var st = stat()
        let seconds = stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : 0
        return "@\(seconds) +0000"
    }

    static func check(_ result: CommandResult, _ what: String) throws {
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure,
                "\(what) failed (status \(result.status)): \(result.stderrText.suffix(600))")
        }
    }
}

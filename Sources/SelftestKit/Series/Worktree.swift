import Foundation

/// The git worktree a series or a bisect runs in: one per tree, at a fixed
/// path under the cache (`<cache>/worktrees/<name>-<hash>`), so the `O=`
/// build directory, which is keyed on the path, stays warm from one commit
/// to the next and from one run to the next.
///
/// The user's checkout, index and branches are never touched: commits are
/// checked out detached in the worktree, patches applied there, and
/// bisect's refs are per worktree. Only git's own bookkeeping of the
/// worktree (`.git/worktrees/<name>`) and the new commits' objects land in
/// the user's repository. One run holds the worktree at a time.
public final class Worktree: Sendable {
    /// The user's tree (its repository).
    public let tree: URL
    public let path: URL
    /// git in the worktree.
    public let git: Git
    private let lockDescriptor: Int32
    private let cleanupToken: Int

    /// `<cache>/worktrees/<tree name>-<hash of the tree's path>`.
    public static func location(for tree: URL, cache: Cache) -> URL {
        let resolved = tree.standardizedFileURL.resolvingSymlinksInPath().path
        let name = URL(fileURLWithPath: resolved).lastPathComponent
        return cache.entry("worktrees", "\(name)-\(SHA256.hex(resolved).prefix(12))")
    }

    /// Takes the worktree of `tree` (adding it on first use, at `start`),
    /// locked for this run, with nothing left over from a run that was
    /// killed. Throws a usage error when `tree` is not a git repository.
    public static func open(
        tree: URL, at start: String, cache: Cache, runner: CommandRunning = SystemRunner()
    ) throws -> Worktree {
        let repository = try Self.repository(tree, runner: runner)
        let path = location(for: tree, cache: cache)
        try FileManager.default.createDirectory(
            at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let lock = try Self.lock(path.appendingPathExtension("lock"), tree: tree)
        do {
            let git = Git(path, runner: runner)
            if !(try Self.belongs(path, to: repository)) {
                try? FileManager.default.removeItem(at: path)
                // -f: a worktree whose directory a cache cleanup removed is
                // still registered; take its place.
                try repository.checked(
                    ["worktree", "add", "-f", "--detach", path.path, start], timeout: 3600)
            }
            return Worktree(tree: tree, path: path, git: git, lock: lock)
        } catch {
            Glibc.close(lock)
            throw error
        }
    }

    /// git in `tree`, which must be a git work tree (a usage error otherwise).
    public static func repository(_ tree: URL, runner: CommandRunning = SystemRunner()) throws
        -> Git
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: tree.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw SelftestError(
                .usage, .tree, "--tree \(tree.path) is not a directory",
                input: "--tree \(tree.path)",
                fix: "pass the kernel source tree, e.g. --tree ~/linux")
        }
        let repository = Git(tree, runner: runner)
        guard repository.isWorkTree() else {
            throw SelftestError(
                .usage, .tree, "\(tree.path) is not a git work tree",
                input: "--tree \(tree.path)",
                fix: "a series and a bisect need the kernel tree's git history; pass --tree "
                    + "a git checkout (selftests kernel source makes one of Debian's 6.12)")
        }
        return repository
    }

    private init(tree: URL, path: URL, git: Git, lock: Int32) {
        self.tree = tree
        self.path = path
        self.git = git
        self.lockDescriptor = lock
        // Ctrl-C kills make and QEMU first; then the worktree is restored.
        let restore = Git(
            path, executable: git.executable, runner: SystemRunner(duringShutdown: true))
        self.cleanupToken = InterruptHandler.register { Self.restore(restore) }
        Self.restore(git)
    }

    /// Restores the worktree and lets another run take it.
    public func close() {
        Self.restore(git)
        InterruptHandler.remove(cleanupToken)
        Glibc.close(lockDescriptor)
    }

    /// Checks out `commit` (detached), dropping whatever the last step left.
    public func checkout(_ commit: String) throws {
        try git.checked(["checkout", "-q", "--force", "--detach", commit], timeout: 3600)
        try git.checked(["clean", "-q", "-f", "-d", "-x"], timeout: 600)
    }

    /// The commit checked out now.
    public func head() throws -> String {
        guard let head = try git.commit("HEAD") else {
            throw SelftestError(.infrastructure, .tree, "the worktree \(path.path) has no HEAD")
        }
        return head
    }

    /// Ends an interrupted `git am` or bisect, removes the locks a killed git
    /// left, and drops every change to tracked and untracked files. The
    /// worktree is ours; nothing in it is the user's.
    static func restore(_ git: Git) {
        guard let gitDirectory = try? git.gitDirectory() else { return }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: gitDirectory.path)) ?? []
        for file in files where file.hasSuffix(".lock") {
            try? FileManager.default.removeItem(at: gitDirectory.appendingPathComponent(file))
        }
        if files.contains("rebase-apply") { _ = try? git.run(["am", "--abort"]) }
        if files.contains("BISECT_LOG") { _ = try? git.run(["bisect", "reset", "--quiet"]) }
        _ = try? git.run(["reset", "-q", "--hard"], timeout: 3600)
        _ = try? git.run(["clean", "-q", "-f", "-d", "-x"], timeout: 600)
    }

    /// Whether `path` is a live worktree of `repository`.
    static func belongs(_ path: URL, to repository: Git) throws -> Bool {
        guard Cache.exists(path.appendingPathComponent(".git")) else { return false }
        let worktree = Git(path, executable: repository.executable, runner: repository.runner)
        guard worktree.isWorkTree() else { return false }
        let common = try? worktree.checked([
            "rev-parse", "--path-format=absolute", "--git-common-dir",
        ])
        let mine = try repository.checked([
            "rev-parse", "--path-format=absolute", "--git-common-dir",
        ])
        return common.map { URL(fileURLWithPath: $0).standardizedFileURL }
            == URL(fileURLWithPath: mine).standardizedFileURL
    }

    /// An exclusive lock on `file`, taken at once or refused: a series can
    /// run for hours, so a second one on the same tree is told, not queued.
    static func lock(_ file: URL, tree: URL) throws -> Int32 {
        let fd = Glibc.open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SelftestError(
                .infrastructure, .tree,
                "cannot open \(file.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw SelftestError(
                .usage, .tree,
                "another selftests series or bisect is using the worktree of \(tree.path)",
                input: "--tree \(tree.path)",
                fix: "wait for it to finish, or stop it; one run per tree at a time")
        }
        return fd
    }
}

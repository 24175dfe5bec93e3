import Foundation

/// git in one repository or worktree: each method is one git command, built
/// as an argument array, with a typed result. Tests assert on the argument
/// lists through a recording `CommandRunning`.
///
/// Every command runs with the user's hooks off (`core.hooksPath=/dev/null`:
/// a tool applying patches must not run a repository's `applypatch-msg`),
/// no signing, no pager, and git's messages in English, since a few of them
/// (bisect's verdict) are read back.
public struct Git: Sendable {
    public var executable: String
    /// The repository or worktree every command runs in (`git -C`).
    public var directory: URL
    public var runner: CommandRunning

    /// The identity of commits this tool makes (`git am`, the source tree).
    public static let identity = [
        "GIT_AUTHOR_NAME": "selftests", "GIT_AUTHOR_EMAIL": "selftests@localhost",
        "GIT_COMMITTER_NAME": "selftests", "GIT_COMMITTER_EMAIL": "selftests@localhost",
    ]

    static let settings = [
        "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false", "-c", "gc.auto=0",
        "-c", "advice.detachedHead=false", "-c", "core.pager=cat",
    ]

    public init(
        _ directory: URL, executable: String = "git", runner: CommandRunning = SystemRunner()
    ) {
        self.executable = executable
        self.directory = directory
        self.runner = runner
    }

    /// `git -C <directory> <settings> <arguments>`.
    public func command(_ arguments: [String], environment: [String: String] = [:]) -> Command {
        var env = ["LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"]
        env.merge(environment) { _, new in new }
        return Command(
            executable, ["-C", directory.path] + Self.settings + arguments, environment: env)
    }

    /// Runs a git command; a non-zero exit is a result, not an error.
    @discardableResult
    public func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
        timeout: Double = 300
    ) throws -> CommandResult {
        try runner.run(command(arguments, environment: environment), stdin: stdin, timeout: timeout)
    }

    /// Runs a git command that must succeed; its stdout, trimmed.
    @discardableResult
    public func checked(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
        timeout: Double = 300
    ) throws -> String {
        let result = try run(arguments, stdin: stdin, environment: environment, timeout: timeout)
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure, .tree,
                "git \(arguments.joined(separator: " ")) in \(directory.path) failed "
                    + "(status \(result.status)): \(Self.lastLines(result.stderrText))")
        }
        return result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The full commit id `revision` names, or nil when it names no commit.
    public func commit(_ revision: String) throws -> String? {
        let result = try run(["rev-parse", "--verify", "--quiet", "\(revision)^{commit}"])
        guard result.succeeded else { return nil }
        let id = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// Whether `directory` is inside a git work tree.
    public func isWorkTree() -> Bool {
        let result = try? run(["rev-parse", "--is-inside-work-tree"], timeout: 60)
        return result?.succeeded == true && result?.stdoutText.hasPrefix("true") == true
    }

    /// Whether tracked files differ from HEAD (untracked files do not count).
    public func isDirty() throws -> Bool {
        let result = try run(["status", "--porcelain", "--untracked-files=no"], timeout: 600)
        return !result.succeeded || !result.stdout.isEmpty
    }

    /// The first line of a commit's message.
    public func subject(of commit: String) throws -> String {
        try checked(["log", "-1", "--format=%s", commit])
    }

    /// The commits of `base..tip` oldest first, along the first-parent line
    /// (a merged topic counts as its merge commit).
    public func commits(from base: String, to tip: String) throws -> [String] {
        let text = try checked(["rev-list", "--reverse", "--first-parent", "\(base)..\(tip)"])
        return text.split(separator: "\n").map(String.init)
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `descendant`.
    public func isAncestor(_ ancestor: String, of descendant: String) throws -> Bool {
        try run(["merge-base", "--is-ancestor", ancestor, descendant]).succeeded
    }

    /// This checkout's git directory: `.git`, or `.git/worktrees/<name>` for
    /// a linked worktree (where its `rebase-apply` and `BISECT_LOG` live).
    public func gitDirectory() throws -> URL {
        URL(fileURLWithPath: try checked(["rev-parse", "--absolute-git-dir"]))
    }

    /// The last few lines of git's complaint: its point is at the end.
    static func lastLines(_ text: String, count: Int = 6) -> String {
        text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}

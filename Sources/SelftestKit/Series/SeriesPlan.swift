import Foundation

/// Where a series comes from.
public enum SeriesSource: Sendable, Equatable {
    /// An mbox and, optionally, the base to apply it on.
    case mbox(URL, base: String?)
    /// `BASE..TIP`: commits already in the tree.
    case range(String)
}

/// One commit a series run tests: the base (position 0) or a patch.
public struct SeriesCommit: Sendable, Codable, Equatable {
    /// 0 for the base, k for `[PATCH k/N]` (or the k-th commit of a range).
    public var position: Int
    public var subject: String
    public var commit: String
    public var messageId: String?

    public init(position: Int, subject: String, commit: String, messageId: String? = nil) {
        self.position = position
        self.subject = subject
        self.commit = commit
        self.messageId = messageId
    }
}

/// A patch `git am` could not apply: the series stops before it.
public struct NotApplied: Sendable, Codable, Equatable {
    public var position: Int
    public var subject: String
    /// The files git named (`patch failed: FILE:LINE`, `Merge conflict in FILE`).
    public var files: [String]
    /// git's own words.
    public var message: String
}

/// The commits of a series, made ready in the worktree: the base, then
/// one commit per patch that applied.
public struct SeriesPlan: Sendable {
    /// The cover letter's subject, or the range.
    public var title: String
    public var base: SeriesCommit
    /// How the base was chosen (trailer, `--base`, HEAD), for the report.
    public var baseNote: String
    public var patches: [SeriesCommit]
    /// Patches in the series (N of `k/N`), applied or not.
    public var total: Int
    public var notApplied: NotApplied?
    /// Seconds `git am` took per position.
    public var applySeconds: [Int: Double] = [:]

    public var steps: [SeriesCommit] { [base] + patches }

    /// The commits of `BASE..TIP` in `tree`; an unknown ref or an empty
    /// range is a usage error naming it.
    public static func range(_ range: String, tree: Git) throws -> SeriesPlan {
        let ends = range.components(separatedBy: "..")
        guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty, !range.contains("...") else {
            throw SelftestError(
                .usage, .tree, "--range '\(range)' is not BASE..TIP",
                input: "--range \(range)",
                fix: "name two commits, e.g. --range v6.12..HEAD or --range origin/main..my-series")
        }
        let base = try resolve(ends[0], in: tree, option: "--range")
        let tip = try resolve(ends[1], in: tree, option: "--range")
        let commits = try tree.commits(from: base, to: tip)
        guard !commits.isEmpty else {
            throw SelftestError(
                .usage, .tree,
                "--range \(range) holds no commit (\(ends[1]) is not ahead of \(ends[0]))",
                input: "--range \(range)", fix: "put the older commit first: --range BASE..TIP")
        }
        let patches = try commits.enumerated().map { index, commit in
            SeriesCommit(position: index + 1, subject: try tree.subject(of: commit), commit: commit)
        }
        return SeriesPlan(
            title: range,
            base: SeriesCommit(position: 0, subject: try tree.subject(of: base), commit: base),
            baseNote: "--range", patches: patches, total: patches.count)
    }

    /// The full commit id of `revision`, or a usage error naming the option.
    static func resolve(_ revision: String, in tree: Git, option: String) throws -> String {
        guard let commit = try tree.commit(revision) else {
            throw SelftestError(
                .usage, .tree, "\(option): '\(revision)' names no commit in \(tree.directory.path)",
                input: "\(option) \(revision)",
                fix: "check the name with `git -C \(tree.directory.path) log -1 \(revision)`; "
                    + "fetch it first if it lives in another repository")
        }
        return commit
    }

    /// The patches of an mbox in series order, and its cover letter. Errors
    /// (nothing to apply, two versions, a missing patch) name the mbox.
    public static func order(_ mails: [PatchMail], mbox: URL) throws -> (
        patches: [PatchMail], cover: PatchMail?
    ) {
        let patches = mails.filter { $0.hasDiff && !$0.isReply }
        let cover = mails.first { !$0.hasDiff && !$0.isReply && $0.position == 0 }
        guard !patches.isEmpty else {
            throw SelftestError(
                .usage, .tree,
                "\(mbox.path) holds no patch: none of its \(mails.count) message(s) has a diff",
                input: "--mbox \(mbox.path)",
                fix: "save the series' patches, not only its cover letter or replies")
        }
        let versions = Set(patches.map { $0.version ?? 1 })
        if versions.count > 1 {
            let list = versions.sorted().map { "v\($0)" }.joined(separator: ", ")
            throw SelftestError(
                .usage, .tree, "\(mbox.path) holds more than one version of the series (\(list))",
                input: "--mbox \(mbox.path)",
                fix: "save one version, e.g. `b4 am -v \(versions.max() ?? 1) <message-id>`")
        }
        let numbered = patches.compactMap(\.position)
        guard !numbered.isEmpty else { return (patches, cover) }
        guard numbered.count == patches.count else {
            throw SelftestError(
                .usage, .tree, "\(mbox.path) mixes numbered [PATCH k/N] and unnumbered patches",
                input: "--mbox \(mbox.path)", fix: "save one series per mbox")
        }
        let total = patches.compactMap(\.total).max() ?? numbered.count
        let present = Set(numbered)
        if present.count != numbered.count {
            let twice = Dictionary(grouping: numbered, by: { $0 }).filter { $1.count > 1 }.keys
            throw SelftestError(
                .usage, .tree,
                "\(mbox.path) holds patch \(twice.sorted().map { "\($0)/\(total)" }.joined(separator: ", ")) more than once",
                input: "--mbox \(mbox.path)",
                fix: "save one copy of each patch (b4 am picks the newest)")
        }
        let missing = (1...max(total, 1)).filter { !present.contains($0) }
        guard missing.isEmpty else {
            throw SelftestError(
                .usage, .tree,
                "\(mbox.path) lacks patch \(missing.map { "\($0)/\(total)" }.joined(separator: ", ")) "
                    + "of the series",
                input: "--mbox \(mbox.path)",
                fix: "save the whole thread, e.g. `b4 am <message-id>`")
        }
        return (patches.sorted { ($0.position ?? 0) < ($1.position ?? 0) }, cover)
    }
}

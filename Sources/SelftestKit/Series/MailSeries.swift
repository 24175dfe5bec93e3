import Foundation

/// A series read from an mbox: its patches in order, its cover letter, and
/// the base it says it goes on.
public struct MailSeries: Sendable {
    public var mbox: URL
    public var patches: [PatchMail]
    public var cover: PatchMail?
    /// The commit a `base-commit:` line names (cover letter first).
    public var baseTrailer: String?

    /// The cover letter's subject, else the first patch's.
    public var title: String {
        cover?.subject ?? patches.first?.subject ?? mbox.lastPathComponent
    }

    public static func read(mbox: URL, scratch: URL, git: Git) throws -> MailSeries {
        let mails = try PatchMail.read(mbox: mbox, scratch: scratch, git: git)
        let (patches, cover) = try SeriesPlan.order(mails, mbox: mbox)
        let trailer = ([cover].compactMap { $0 } + patches).compactMap(\.baseCommit).first
        return MailSeries(mbox: mbox, patches: patches, cover: cover, baseTrailer: trailer)
    }

    /// The base: `--base` when given; else the `base-commit:` trailer when
    /// the tree has that commit; else HEAD. The note says which, and why.
    public func base(requested: String?, tree: Git) throws -> (commit: String, note: String) {
        if let requested {
            let commit = try SeriesPlan.resolve(requested, in: tree, option: "--base")
            var note = "--base \(requested)"
            if let trailer = baseTrailer, !commit.hasPrefix(trailer.lowercased()) {
                note += " (the mbox's base-commit \(trailer.prefix(12)) is not used)"
            }
            return (commit, note)
        }
        if let trailer = baseTrailer {
            if let commit = try tree.commit(trailer) {
                return (commit, "the mbox's base-commit: trailer")
            }
            let head = try SeriesPlan.resolve("HEAD", in: tree, option: "HEAD")
            return (
                head,
                "HEAD: the mbox's base-commit \(trailer.prefix(12)) is not in "
                    + "\(tree.directory.path) (fetch it, or pass --base)"
            )
        }
        let head = try SeriesPlan.resolve("HEAD", in: tree, option: "HEAD")
        return (head, "HEAD: the mbox has no base-commit: trailer (pass --base to choose)")
    }

    /// Applies the patches on `base` in the worktree, one `git am --3way`
    /// each, so a patch that does not apply is named and the ones before it
    /// are kept. The committer is fixed and dated as the author, so the
    /// same mbox on the same base always makes the same commits.
    public func apply(
        on base: (commit: String, note: String), subject: String, worktree: Worktree
    ) throws -> SeriesPlan {
        try worktree.checkout(base.commit)
        let total = patches.compactMap(\.total).max() ?? patches.count
        var plan = SeriesPlan(
            title: title, base: SeriesCommit(position: 0, subject: subject, commit: base.commit),
            baseNote: base.note, patches: [], total: total)
        for (index, mail) in patches.enumerated() {
            let position = mail.position ?? index + 1
            let started = Date()
            let result = try worktree.git.run(
                ["am", "--3way", "--committer-date-is-author-date", mail.file.path],
                environment: Git.identity, timeout: 600)
            guard result.succeeded else {
                let said = result.stdoutText + result.stderrText
                _ = try? worktree.git.run(["am", "--abort"])
                plan.notApplied = NotApplied(
                    position: position, subject: mail.title, files: Self.failedFiles(said),
                    message: Git.lastLines(said, count: 12))
                break
            }
            plan.applySeconds[position] = Date().timeIntervalSince(started)
            plan.patches.append(
                SeriesCommit(
                    position: position, subject: mail.title, commit: try worktree.head(),
                    messageId: mail.messageID))
        }
        return plan
    }

    /// The files git names when a patch does not apply.
    static func failedFiles(_ output: String) -> [String] {
        var files: [String] = []
        for line in output.split(whereSeparator: \.isNewline) {
            var file: Substring?
            if line.hasPrefix("error: patch failed: ") {
                let rest = line.dropFirst("error: patch failed: ".count)
                file = rest.lastIndex(of: ":").map { rest[..<$0] } ?? rest
            } else if let range = line.range(of: "Merge conflict in ") {
                file = line[range.upperBound...]
            } else if line.hasPrefix("error: "), line.hasSuffix(": does not exist in index") {
                file = line.dropFirst(7).dropLast(": does not exist in index".count)
            }
            if let file, !files.contains(String(file)) { files.append(String(file)) }
        }
        return files
    }
}

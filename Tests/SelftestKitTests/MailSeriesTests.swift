import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Reading a series from an mbox with git's own mailsplit and mailinfo, on
/// mboxes `git format-patch --cover-letter` makes, shaped as a list archive
/// serves them.
@Suite(.tags(.unit)) struct MailSeriesTests {
    /// A base and three patches, the first with a subject long enough that
    /// format-patch folds it over two header lines.
    static func threePatches() throws -> (ScratchRepo, base: String, String) {
        let repo = try ScratchRepo.make()
        let base = try repo.git.checked(["rev-parse", "HEAD"])
        try repo.commit(
            "bpf: make the hash map's element count a promise of memory, not of entries, "
                + "for every map type",
            files: ["kernel/bpf/hashtab.c": "int hash;\nint count;\n"])
        try repo.commit(
            "bpf: charge socket storage", files: ["net/core/bpf_sk_storage.c": "int charge;\n"])
        try repo.commit(
            "selftests/bpf: test the charge",
            files: ["tools/testing/selftests/bpf/prog.c": "int test;\n"])
        let mbox = try repo.mbox("\(base)..HEAD", cover: "bpf: storage charge fixes")
        return (repo, base, mbox)
    }

    @Test func aFormatPatchSeriesReadsInOrderWithItsCoverAndBase() throws {
        let (repo, base, mbox) = try Self.threePatches()
        defer { repo.remove() }
        #expect(mbox.contains("Subject: [PATCH bpf-next v3 1/3] bpf: make the hash map's"))
        #expect(
            mbox.contains("element count a\n promise of memory"), "format-patch folded the subject")

        let series = try MailSeries.read(
            mbox: try repo.file("v3.mbox", mbox), scratch: try repo.scratch(), git: repo.git)
        #expect(series.patches.map(\.position) == [1, 2, 3])
        #expect(
            series.patches[0].title
                == "bpf: make the hash map's element count a promise of memory, not of "
                + "entries, for every map type")
        #expect(series.patches.allSatisfy { $0.total == 3 && $0.version == 3 })
        #expect(series.patches[0].author == "Ada Dev <ada@example.org>")
        #expect(series.cover?.title == "bpf: storage charge fixes")
        #expect(series.title == "[PATCH bpf-next v3 0/3] bpf: storage charge fixes")
        #expect(series.baseTrailer == base)
    }

    @Test func aListArchiveMboxWithCRLFRepliesAndShuffledOrderReadsTheSame() throws {
        let (repo, _, mbox) = try Self.threePatches()
        defer { repo.remove() }
        // A list archive: messages in arrival order, a review reply quoting
        // a diff, every line ending in CRLF.
        let messages = mbox.components(separatedBy: "\nFrom ").enumerated().map {
            $0 == 0 ? $1 : "From " + $1
        }
        let reply = """
            From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
            From: Rev Iewer <rev@example.org>
            Date: Thu, 16 Nov 2023 10:00:00 +0000
            Subject: Re: [PATCH bpf-next v3 2/3] bpf: charge socket storage

            > +int charge;
            Looks fine.

            """
        let shuffled = [messages[0], messages[3], reply, messages[1], messages[2]]
        let crlf = shuffled.joined(separator: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let series = try MailSeries.read(
            mbox: try repo.file("thread.mbox", crlf), scratch: try repo.scratch(), git: repo.git)
        #expect(series.patches.map(\.position) == [1, 2, 3])
        #expect(series.patches[1].title == "bpf: charge socket storage")
        #expect(!series.patches[1].title.hasSuffix("\r"))
        #expect(series.cover?.position == 0)
    }

    @Test func theSeriesAppliesInTheWorktreeLeavingTheCheckoutAlone() throws {
        let (repo, base, mbox) = try Self.threePatches()
        defer { repo.remove() }
        // The user's checkout: another branch, a local edit.
        try repo.git.checked(["checkout", "-q", "-b", "work", base])
        try Data("int hash; /* local edit */\n".utf8).write(
            to: repo.url.appendingPathComponent("kernel/bpf/hashtab.c"))
        let branches = try repo.git.checked(["branch", "--list"])

        let series = try MailSeries.read(
            mbox: try repo.file("v3.mbox", mbox), scratch: try repo.scratch(), git: repo.git)
        let chosen = try series.base(requested: nil, tree: repo.git)
        #expect(chosen.commit == base)
        #expect(chosen.note == "the mbox's base-commit: trailer")
        let worktree = try Worktree.open(tree: repo.url, at: chosen.commit, cache: repo.cache)
        let plan = try series.apply(on: chosen, subject: "base", worktree: worktree)
        worktree.close()

        #expect(plan.patches.count == 3)
        #expect(plan.notApplied == nil)
        #expect(plan.patches.map(\.subject)[1] == "bpf: charge socket storage")
        let log = try repo.git.checked([
            "log", "--format=%an|%s", "\(base)..\(plan.patches[2].commit)",
        ])
        #expect(log.split(separator: "\n").count == 3)
        #expect(
            log.hasPrefix("Ada Dev|selftests/bpf: test the charge"), "the author is the patch's")
        // Applying again makes the very same commits.
        let again = try Worktree.open(tree: repo.url, at: base, cache: repo.cache)
        #expect(
            try series.apply(on: chosen, subject: "base", worktree: again).patches == plan.patches)
        again.close()

        #expect(try repo.git.checked(["rev-parse", "--abbrev-ref", "HEAD"]) == "work")
        #expect(try repo.git.checked(["branch", "--list"]) == branches)
        #expect(try repo.git.checked(["status", "--porcelain"]) == "M kernel/bpf/hashtab.c")
        #expect(
            try String(
                contentsOf: repo.url.appendingPathComponent("kernel/bpf/hashtab.c"), encoding: .utf8
            )
                == "int hash; /* local edit */\n")
    }

    @Test func aPatchThatDoesNotApplyIsNamedWithItsFileAndTheOnesBeforeItKept() throws {
        let (repo, base, _) = try Self.threePatches()
        defer { repo.remove() }
        // Patches made on a tree where net/core/bpf_sk_storage.c says otherwise.
        try repo.git.checked(["checkout", "-q", "-b", "other", base])
        try repo.commit("bpf: first", files: ["kernel/bpf/first.c": "int first;\n"])
        try repo.commit(
            "bpf: conflicting", files: ["net/core/bpf_sk_storage.c": "int something_else;\n"])
        try repo.commit("bpf: third", files: ["kernel/bpf/third.c": "int third;\n"])
        let mbox = try repo.mbox("\(base)..HEAD")
        try repo.git.checked(["checkout", "-q", "main"])
        let series = try MailSeries.read(
            mbox: try repo.file("other.mbox", mbox), scratch: try repo.scratch(), git: repo.git)
        // main holds a different net/core/bpf_sk_storage.c.
        let worktree = try Worktree.open(tree: repo.url, at: "main", cache: repo.cache)
        defer { worktree.close() }
        let plan = try series.apply(
            on: (try repo.git.checked(["rev-parse", "main"]), "main"), subject: "main",
            worktree: worktree)
        #expect(plan.patches.map(\.position) == [1])
        let missing = try #require(plan.notApplied)
        #expect(missing.position == 2)
        #expect(missing.subject == "bpf: conflicting")
        #expect(missing.files == ["net/core/bpf_sk_storage.c"], "\(missing.message)")
        #expect(
            !FileManager.default.fileExists(
                atPath: try worktree.git.gitDirectory().appendingPathComponent("rebase-apply").path),
            "the failed git am was aborted")
    }

    @Test func theBaseIsTheTrailerWhenTheTreeHasItElseTheOptionElseHEADAndSaysWhy() throws {
        let (repo, base, mbox) = try Self.threePatches()
        defer { repo.remove() }
        let series = try MailSeries.read(
            mbox: try repo.file("v3.mbox", mbox), scratch: try repo.scratch(), git: repo.git)
        let head = try repo.git.checked(["rev-parse", "HEAD"])
        let requested = try series.base(requested: "HEAD", tree: repo.git)
        #expect(requested.commit == head)
        #expect(requested.note.hasPrefix("--base HEAD (the mbox's base-commit \(base.prefix(12))"))

        var unknown = series
        unknown.baseTrailer = String(repeating: "ab", count: 20)
        let fallback = try unknown.base(requested: nil, tree: repo.git)
        #expect(fallback.commit == head)
        #expect(fallback.note.contains("is not in \(repo.url.path)"))

        #expect {
            try series.base(requested: "no-such-branch", tree: repo.git)
        } throws: { error in
            let e = error as? SelftestError
            return e?.exitCode == 2 && e?.domain == .tree && e?.input == "--base no-such-branch"
                && e?.message.contains("'no-such-branch' names no commit") == true
        }
    }

    @Test(arguments: [
        ("", "is not an mbox"),
        ("just some text\nwithout headers\n", "holds no patch"),
    ])
    func aMalformedMboxIsAUsageErrorNamingIt(text: String, said: String) throws {
        let repo = try ScratchRepo.make()
        defer { repo.remove() }
        let file = try repo.file("bad.mbox", text)
        #expect {
            try MailSeries.read(mbox: file, scratch: try repo.scratch(), git: repo.git)
        } throws: { error in
            let e = error as? SelftestError
            return e?.exitCode == 2 && e?.domain == .tree && e?.input == "--mbox \(file.path)"
                && e?.message.contains(said) == true && e?.fix != nil
        }
    }

    @Test func onlyACoverLetterIsNoPatchAndTwoVersionsOrAGapAreRefused() throws {
        let (repo, base, mbox) = try Self.threePatches()
        defer { repo.remove() }
        let messages = mbox.components(separatedBy: "\nFrom ").enumerated().map {
            $0 == 0 ? $1 : "From " + $1
        }
        let coverOnly = try repo.file("cover.mbox", messages[0])
        #expect(throws: SelftestError.self) {
            try MailSeries.read(mbox: coverOnly, scratch: try repo.scratch(), git: repo.git)
        }
        let gap = try repo.file(
            "gap.mbox", [messages[0], messages[1], messages[3]].joined(separator: "\n"))
        #expect {
            try MailSeries.read(mbox: gap, scratch: try repo.scratch(), git: repo.git)
        } throws: { ($0 as? SelftestError)?.message.contains("lacks patch 2/3") == true }

        let v2 = try repo.mbox("\(base)..HEAD", prefix: "PATCH bpf-next v2")
        let both = try repo.file("both.mbox", v2 + mbox)
        #expect {
            try MailSeries.read(mbox: both, scratch: try repo.scratch(), git: repo.git)
        } throws: {
            ($0 as? SelftestError)?.message.contains("more than one version of the series (v2, v3)")
                == true
        }
    }

    @Test(
        arguments: [
            (
                "[PATCH bpf-next v3 10/16] bpf: Use resilient lock", "bpf: Use resilient lock", 10,
                16, 3, false
            ),
            ("[RFC PATCH 2/3] x", "x", 2, 3, nil, false),
            ("Re: [PATCH v2 RESEND 0/5] cover", "cover", 0, 5, 2, true),
            ("[PATCH] one-off fix", "one-off fix", nil, nil, nil, false),
            ("bpf: no prefix at all", "bpf: no prefix at all", nil, nil, nil, false),
        ] as [(String, String, Int?, Int?, Int?, Bool)])
    func subjectPrefixes(
        subject: String, title: String, position: Int?, total: Int?, version: Int?, reply: Bool
    ) {
        let prefix = SubjectPrefix(subject)
        #expect(prefix.title == title)
        #expect(prefix.position == position)
        #expect(prefix.total == total)
        #expect(prefix.version == version)
        #expect(prefix.isReply == reply)
    }
}

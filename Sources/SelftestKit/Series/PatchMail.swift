import Foundation

/// One message of a series mbox, as git's `mailsplit` and `mailinfo` see it.
public struct PatchMail: Sendable, Equatable {
    /// The message on its own (what `git am` applies).
    public var file: URL
    /// The subject as sent, unfolded: `[PATCH bpf-next v3 10/16] bpf: ...`.
    public var subject: String
    /// The subject without its `[...]` prefixes: what the commit is called.
    public var title: String
    /// `k` and `N` of `[PATCH k/N]`; nil for an unnumbered patch.
    public var position: Int?
    public var total: Int?
    /// `v3` of `[PATCH v3 ...]`; nil for a first version.
    public var version: Int?
    public var isReply: Bool
    public var author: String
    public var messageID: String?
    /// Whether the message carries a diff (a cover letter does not).
    public var hasDiff: Bool
    /// The commit named by a `base-commit:` line in the message.
    public var baseCommit: String?

    /// Splits `mbox` into messages under `scratch` and reads each with
    /// `git mailinfo` (which unfolds headers, decodes MIME and strips CRs).
    /// Throws a usage error naming the file when it holds no message.
    public static func read(mbox: URL, scratch: URL, git: Git) throws -> [PatchMail] {
        guard FileManager.default.isReadableFile(atPath: mbox.path) else {
            throw SelftestError(
                .usage, .tree, "cannot read the mbox \(mbox.path)",
                input: "--mbox \(mbox.path)",
                fix: "pass the file `b4 am` or a mailing-list archive saved (--mbox FILE)")
        }
        let split = scratch.appendingPathComponent("split")
        try FileManager.default.createDirectory(at: split, withIntermediateDirectories: true)
        // -b: a file of one message without a leading "From " line is fine too.
        let count = try git.run(["mailsplit", "-b", "-o\(split.path)", mbox.path])
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: split.path)) ?? [])
            .sorted()
        guard count.succeeded, !files.isEmpty else {
            throw SelftestError(
                .usage, .tree,
                "\(mbox.path) is not an mbox: git mailsplit found no message"
                    + (count.stderrText.isEmpty ? "" : " (\(Git.lastLines(count.stderrText)))"),
                input: "--mbox \(mbox.path)",
                fix: "save the series as an mbox: `b4 am <message-id>`, or `git format-patch "
                    + "--stdout`, or the thread's mbox from lore.kernel.org")
        }
        return try files.map { name in
            try info(split.appendingPathComponent(name), scratch: scratch, git: git)
        }
    }

    /// One message through `git mailinfo -k --message-id`: `-k` keeps the
    /// subject's prefixes (their `k/N` orders the series).
    public static func info(_ file: URL, scratch: URL, git: Git) throws -> PatchMail {
        let message = scratch.appendingPathComponent(file.lastPathComponent + ".msg")
        let patch = scratch.appendingPathComponent(file.lastPathComponent + ".patch")
        let raw = try Data(contentsOf: file)
        let result = try git.run(
            ["mailinfo", "-k", "--message-id", message.path, patch.path], stdin: raw)
        guard result.succeeded else {
            throw SelftestError(
                .usage, .tree,
                "git mailinfo cannot read message \(file.lastPathComponent) of the mbox: "
                    + Git.lastLines(result.stderrText),
                fix: "check that the mbox is complete (not cut off) and not HTML mail")
        }
        var headers: [String: String] = [:]
        for line in result.stdoutText.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[String(line[..<colon])] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        let body = (try? String(contentsOf: message, encoding: .utf8)) ?? ""
        let diff = (try? String(contentsOf: patch, encoding: .utf8)) ?? ""
        let subject = headers["Subject"] ?? ""
        let prefix = SubjectPrefix(subject)
        let name = headers["Author"] ?? ""
        let email = headers["Email"].map { " <\($0)>" } ?? ""
        return PatchMail(
            file: file, subject: subject, title: prefix.title, position: prefix.position,
            total: prefix.total, version: prefix.version, isReply: prefix.isReply,
            author: name + email, messageID: lastValue(of: "Message-ID", in: body),
            hasDiff: diff.contains("\n+++ ") || diff.hasPrefix("--- "),
            baseCommit: lastValue(of: "base-commit", in: body + "\n" + diff))
    }

    /// The value of the last `key: value` line in `text`.
    static func lastValue(of key: String, in text: String) -> String? {
        let prefix = key.lowercased() + ":"
        let line = text.split(whereSeparator: \.isNewline).last {
            $0.lowercased().hasPrefix(prefix)
        }
        guard let line else { return nil }
        let value = line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }
}

/// What the bracketed prefix of a patch subject says. Written here because
/// git has no command that reports a patch's `k/N`: `mailinfo` only strips
/// the brackets.
public struct SubjectPrefix: Sendable, Equatable {
    public var title: String
    public var position: Int?
    public var total: Int?
    public var version: Int?
    public var isReply: Bool

    public init(_ subject: String) {
        var rest = Substring(subject).drop { $0.isWhitespace }
        isReply = false
        while let colon = rest.firstIndex(of: ":"),
            ["re", "fwd", "fw", "aw"].contains(rest[..<colon].lowercased())
        {
            isReply = true
            rest = rest[rest.index(after: colon)...].drop { $0.isWhitespace }
        }
        while rest.first == "[", let close = rest.firstIndex(of: "]") {
            for word in rest[rest.index(after: rest.startIndex)..<close].split(separator: " ") {
                let parts = word.split(separator: "/")
                if parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) {
                    position = k
                    total = n
                } else if word.first == "v" || word.first == "V", let v = Int(word.dropFirst()) {
                    version = v
                }
            }
            rest = rest[rest.index(after: close)...].drop { $0.isWhitespace }
        }
        title = String(rest)
    }
}

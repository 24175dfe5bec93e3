/// One line a test's child process sends the guest agent on its pipe:
/// a diagnostic, a case's verdict, or the test's verdict.
///
/// A message's newlines travel as U+001F so that one message stays one
/// line; the agent splits them back into lines.
public enum ChildMessage: Sendable, Equatable {
    /// What a verdict can be from inside the child (a timeout is the
    /// agent's to call).
    public enum Verdict: String, Sendable { case pass, fail, skip }

    case diagnostic(String)
    case caseVerdict(Verdict, name: String, message: String)
    case verdict(Verdict, message: String)

    public static let lineSeparator: Character = "\u{1F}"

    /// The line, with its newline.
    public var line: String {
        let words: [String]
        switch self {
        case .diagnostic(let text): words = ["diag", text]
        case .caseVerdict(let verdict, let name, let message):
            words = ["case", verdict.rawValue, name] + (message.isEmpty ? [] : [message])
        case .verdict(let verdict, let message):
            words = ["result", verdict.rawValue] + (message.isEmpty ? [] : [message])
        }
        let text = words.joined(separator: " ")
        return String(text.map { $0 == "\n" || $0 == "\r" ? Self.lineSeparator : $0 }) + "\n"
    }

    /// The message on one line; nil for a line that is none. A verdict
    /// word the agent does not know is a failure.
    public init?(line: Substring) {
        let parts = line.split(separator: " ", maxSplits: 1)
        let rest = parts.count > 1 ? parts[1] : ""
        func verdict(_ word: Substring) -> Verdict {
            word == "pass" ? .pass : word == "skip" ? .skip : .fail
        }
        switch parts.first {
        case "diag": self = .diagnostic(String(rest))
        case "case":
            let f = rest.split(separator: " ", maxSplits: 2)
            guard f.count >= 2 else { return nil }
            self = .caseVerdict(
                verdict(f[0]), name: String(f[1]), message: f.count > 2 ? String(f[2]) : "")
        case "result":
            let f = rest.split(separator: " ", maxSplits: 1)
            self = .verdict(
                f.first.map(verdict) ?? .fail, message: f.count > 1 ? String(f[1]) : "")
        default: return nil
        }
    }
}

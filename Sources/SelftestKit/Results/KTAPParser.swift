import SelftestCatalog

/// One KTAP result line, with the diagnostics and subtests that led up to it.
public struct KTAPResult: Sendable, Equatable {
    /// What follows the `#` after the description, when it names a directive.
    public struct Directive: Sendable, Equatable {
        /// The KTAP directives (Documentation/dev-tools/ktap.rst).
        public enum Kind: String, Sendable, CaseIterable {
            case skip, todo, xfail, timeout, error
        }

        public var kind: Kind
        /// The text after the keyword; empty when there is none.
        public var reason: String

        public init(kind: Kind, reason: String) {
            self.kind = kind
            self.reason = reason
        }
    }

    public var number: Int
    /// The description, without a leading `- `.
    public var name: String
    public var ok: Bool
    public var directive: Directive?
    /// `# ...` lines at this result's level since the previous result, without
    /// the `# `; diagnostic data after a `#` that is not a directive comes last.
    public var diagnostics: [String]
    public var subtests: [KTAPResult]

    public init(
        number: Int, name: String, ok: Bool, directive: Directive? = nil,
        diagnostics: [String] = [], subtests: [KTAPResult] = []
    ) {
        self.number = number
        self.name = name
        self.ok = ok
        self.directive = directive
        self.diagnostics = diagnostics
        self.subtests = subtests
    }
}

/// A parsed KTAP stream: the top-level results and how far the stream got.
public struct KTAPDocument: Sendable, Equatable {
    /// Whether a `KTAP version N` or `TAP version N` line opened the stream.
    public var hasVersionLine = false
    /// The top-level plan (`1..N`), when one was given.
    public var plan: Int?
    public var results: [KTAPResult] = []
    /// Names from the guest agent's `# start NAME` lines, in order.
    public var startedTests: [String] = []
    /// Whether the guest agent wrote `# selftests: done`.
    public var done = false

    public init() {}

    /// Tests that started but have no top-level result: the one running when
    /// the stream was cut (a crash, a hang), if any.
    public var unfinishedTests: [String] {
        let finished = Set(results.map(\.name))
        return startedTests.filter { !finished.contains($0) }
    }
}

/// Parses KTAP and TAP 13/14 text (Documentation/dev-tools/ktap.rst).
///
/// Nesting follows indentation of any width (two or four spaces, tabs); a
/// `# Subtest: NAME` line or a deeper version, plan or result line opens a
/// level, a shallower result line closes it. Kernel log timestamps are
/// stripped; lines that are not KTAP (a leaked kernel message) are ignored.
public enum KTAPParser {
    public static func parse(_ text: String) -> KTAPDocument {
        var stream = Stream()
        for line in TextLines.split(text) { stream.consume(line) }
        return stream.finished
    }

    /// The parser fed one line at a time, as a boot's stream grows: its
    /// `document` holds every top-level result whose line has come.
    struct Stream {
        private var state = State()

        /// One line, without its newline.
        mutating func consume(_ raw: Substring) {
            let line = ConsoleText.strippingPrefix(raw)
            state.consume(indent: TextLines.indentation(of: line), content: TextLines.trimmed(line))
        }

        /// What has come so far. A top-level result is whole once its line
        /// has come (its subtests and diagnostics precede it).
        var document: KTAPDocument { state.document }

        /// The document with the stream ended: open levels closed.
        var finished: KTAPDocument {
            var copy = state
            return copy.finish()
        }
    }

    /// One nesting level: what has been seen since its last result line.
    private struct Level {
        var indent: Int
        var name: String?
        var plan: Int?
        var results: [KTAPResult] = []
        var diagnostics: [String] = []
        /// Results of a closed deeper level, for this level's next result.
        var subtests: [KTAPResult] = []
    }

    private struct State {
        var document = KTAPDocument()
        var levels: [Level] = []

        mutating func consume(indent: Int, content: Substring) {
            guard !content.isEmpty else { return }
            if isVersion(content) {
                if levels.isEmpty || levels.count == 1 && indent <= levels[0].indent {
                    document.hasVersionLine = document.hasVersionLine || document.results.isEmpty
                }
                open(at: indent)
            } else if let plan = parsePlan(content) {
                open(at: indent)
                if levels[levels.count - 1].plan == nil { levels[levels.count - 1].plan = plan }
                if levels.count == 1, document.plan == nil { document.plan = plan }
            } else if content.hasPrefix("ok") || content.hasPrefix("not ok"),
                let result = parseResult(content)
            {
                close(deeperThan: indent)
                open(at: indent)
                add(result)
            } else if content.first == "#" {
                diagnostic(indent: indent, text: TextLines.diagnosticText(content))
            }
        }

        /// Makes sure a level at `indent` exists and is the innermost one.
        mutating func open(at indent: Int) {
            close(deeperThan: indent)
            // Lines before the first result may have guessed the root too deep.
            if levels.count == 1, indent < levels[0].indent, levels[0].results.isEmpty {
                levels[0].indent = indent
            }
            if levels.isEmpty || indent > levels[levels.count - 1].indent {
                levels.append(Level(indent: indent))
            }
        }

        mutating func close(deeperThan indent: Int) {
            while levels.count > 1, levels[levels.count - 1].indent > indent {
                let child = levels.removeLast()
                levels[levels.count - 1].subtests += child.results
                levels[levels.count - 1].diagnostics += child.diagnostics
            }
        }

        mutating func add(_ parsed: (result: KTAPResult, comment: String?)) {
            var result = parsed.result
            let index = levels.count - 1
            if result.number == 0 { result.number = levels[index].results.count + 1 }
            result.diagnostics = levels[index].diagnostics + (parsed.comment.map { [$0] } ?? [])
            result.subtests = levels[index].subtests
            levels[index].diagnostics = []
            levels[index].subtests = []
            levels[index].results.append(result)
            if index == 0 { document.results.append(result) }
        }

        mutating func diagnostic(indent: Int, text: String) {
            if levels.count <= 1, let test = ResultsComment.startedTest(text) {
                document.startedTests.append(test)
                return
            }
            if text == ResultsComment.done {
                document.done = true
                return
            }
            if text.hasPrefix("Subtest:") {
                let name = String(TextLines.trimmed(text.dropFirst(8)))
                if levels.isEmpty || indent > levels[levels.count - 1].indent {
                    open(at: indent)
                    levels[levels.count - 1].name = name
                    return
                }
                let top = levels.count - 1
                if top > 0, levels[top].indent == indent, levels[top].results.isEmpty,
                    levels[top].name == nil
                {
                    levels[top].name = name
                    return
                }
            }
            if levels.isEmpty { levels.append(Level(indent: indent)) }
            let index = levels.lastIndex { $0.indent <= indent } ?? 0
            levels[index].diagnostics.append(text)
        }

        mutating func finish() -> KTAPDocument {
            close(deeperThan: -1)
            return document
        }
    }

    static func isVersion(_ content: Substring) -> Bool {
        for prefix in ["KTAP version ", "TAP version "] where content.hasPrefix(prefix) {
            let rest = content.dropFirst(prefix.count)
            return !rest.isEmpty && rest.allSatisfy(\.isNumber)
        }
        return false
    }

    static func parsePlan(_ content: Substring) -> Int? {
        guard content.hasPrefix("1..") else { return nil }
        let rest = content.dropFirst(3)
        let digits = rest.prefix(while: \.isNumber)
        let tail = rest.dropFirst(digits.count)
        guard let count = Int(digits), tail.isEmpty || tail.first == " " || tail.first == "#"
        else { return nil }
        return count
    }

    /// `ok|not ok [N] [- ][description][ # [directive] [reason]]`; the number
    /// is 0 when absent (the caller numbers it), the comment is non-directive data.
    static func parseResult(_ content: Substring) -> (result: KTAPResult, comment: String?)? {
        let ok = content.hasPrefix("ok")
        var rest = content.dropFirst(ok ? 2 : 6)
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        let digits = rest.prefix(while: \.isNumber)
        let number = Int(digits) ?? 0
        rest = rest.dropFirst(digits.count).drop { $0 == " " || $0 == "\t" }
        if rest == "-" || rest.hasPrefix("- ") { rest = rest.dropFirst() }
        var description = rest
        var comment: Substring?
        if let hash = rest.indices.first(where: { index in
            rest[index] == "#"
                && (index == rest.startIndex || " \t".contains(rest[rest.index(before: index)]))
        }) {
            description = rest[..<hash]
            comment = rest[rest.index(after: hash)...]
        }
        var result = KTAPResult(
            number: number, name: String(TextLines.trimmed(description)), ok: ok)
        guard let comment else { return (result, nil) }
        let trimmed = String(TextLines.trimmed(comment))
        if let directive = parseDirective(trimmed) {
            result.directive = directive
            return (result, nil)
        }
        return (result, trimmed.isEmpty ? nil : trimmed)
    }

    /// `SKIP reason`, `skipped: reason`, `TIMEOUT 30 seconds`, `TODO`, ... (any case).
    static func parseDirective(_ text: String) -> KTAPResult.Directive? {
        let word = text.prefix { $0.isLetter }
        let keyword = word.uppercased()
        let kind: KTAPResult.Directive.Kind
        switch keyword {
        case "SKIP", "SKIPPED": kind = .skip
        case "TODO": kind = .todo
        case "XFAIL": kind = .xfail
        case "TIMEOUT": kind = .timeout
        case "ERROR": kind = .error
        default: return nil
        }
        var reason = text.dropFirst(word.count)
        if reason.first == ":" { reason = reason.dropFirst() }
        return .init(kind: kind, reason: String(TextLines.trimmed(reason)))
    }
}

/// Line splitting shared by the KTAP and console parsers.
enum TextLines {
    /// Lines split on `\n`, each without trailing `\r` (serial consoles send
    /// CRLF, which Swift counts as one `Character`).
    static func split(_ text: String) -> [Substring] {
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        return lines.map { line in
            var line = line
            while line.last == "\r" { line = line.dropLast() }
            return line
        }
    }

    /// Leading whitespace width; a tab advances to the next multiple of 8.
    static func indentation(of line: Substring) -> Int {
        var width = 0
        for character in line {
            if character == " " {
                width += 1
            } else if character == "\t" {
                width = (width / 8 + 1) * 8
            } else {
                break
            }
        }
        return width
    }

    static func trimmed(_ line: Substring) -> Substring {
        line.trimming(" \t")
    }

    /// `# text` → `text`; `#text` → `text`; `#` → ``.
    static func diagnosticText(_ content: Substring) -> String {
        var text = content.dropFirst()
        if text.first == " " { text = text.dropFirst() }
        return String(text)
    }
}

import Foundation

/// The first error of a failed kernel build: where it is and what it says.
public struct BuildError: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The file, relative to the tree when it is inside it; nil for an error
    /// no file is named for (a make or Kconfig message).
    public var file: String?
    public var line: Int?
    public var message: String
    /// The lines that follow it in the log (source line, caret, notes), bounded.
    public var context: [String]

    public init(file: String?, line: Int?, message: String, context: [String] = []) {
        self.file = file
        self.line = line
        self.message = message
        self.context = context
    }

    /// `kernel/bpf/bpf_local_storage.c:42: error: expected ';' before 'return'`.
    public var description: String {
        guard let file else { return message }
        return "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}

/// Reads Kbuild's output as it streams: counts the steps it reports
/// (`  CC      kernel/bpf/core.o`), keeps the current one, and finds the first
/// error. Pure: fed bytes, holds no file or process.
public struct BuildOutput: Sendable {
    /// Steps seen so far: every `  TOOL    target` line Kbuild prints.
    public private(set) var steps = 0
    /// The last step, e.g. `CC kernel/bpf/core.o`.
    public private(set) var current: String?
    /// The first compiler or linker error, with the lines after it.
    public private(set) var firstError: BuildError?
    /// The first `*** message` of make or Kbuild (e.g. an unclean source tree).
    public private(set) var firstMakeMessage: String?
    /// The first `make[N]: *** [target] Error N`.
    public private(set) var firstMakeError: String?
    /// The last lines, for a failure that names nothing better.
    public private(set) var tail: [String] = []

    /// Absolute path prefixes removed from file names (the tree, the build directory).
    var prefixes: [String]
    private var partial = Data()
    private var contextWanted = 0
    static let contextLines = 4
    static let tailLines = 12

    public init(stripping prefixes: [String] = []) {
        self.prefixes = prefixes.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    }

    /// Parses a whole captured log at once.
    public init(log: String, stripping prefixes: [String] = []) {
        self.init(stripping: prefixes)
        consume(Data(log.utf8))
        finish()
    }

    /// Feeds more output; a line cut across two chunks is kept until its end.
    public mutating func consume(_ data: Data) {
        partial.append(data)
        while let newline = partial.firstIndex(of: 0x0a) {
            let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...newline)
            take(line)
        }
    }

    /// Flushes a last line without a newline.
    public mutating func finish() {
        if !partial.isEmpty {
            take(String(decoding: partial, as: UTF8.self))
            partial.removeAll()
        }
    }

    /// The failure to report: the first compiler error, else make's first
    /// message, else the end of the log.
    public var failure: BuildError {
        if let firstError { return firstError }
        if let message = firstMakeMessage ?? firstMakeError {
            return BuildError(file: nil, line: nil, message: message)
        }
        return BuildError(
            file: nil, line: nil, message: tail.last ?? "the build failed with no output",
            context: Array(tail.dropLast().suffix(Self.contextLines)))
    }

    mutating func take(_ raw: String) {
        let line = Self.plain(raw)
        tail.append(line)
        if tail.count > Self.tailLines { tail.removeFirst() }
        if contextWanted > 0, firstError != nil {
            firstError?.context.append(line)
            contextWanted -= 1
            return
        }
        if let step = Self.step(line) {
            steps += 1
            current = step
        } else if firstError == nil, let error = diagnostic(line) {
            firstError = error
            contextWanted = Self.contextLines
        } else if let (text, consequence) = Self.makeMessage(line) {
            if consequence {
                if firstMakeError == nil { firstMakeError = text }
            } else if firstMakeMessage == nil {
                firstMakeMessage = text
            }
        }
    }

    /// `  CC      kernel/bpf/core.o` → `CC kernel/bpf/core.o`. Kbuild prints
    /// two spaces, the tool in capitals padded to seven, a space, the target;
    /// the selftests print `  CLNG-BPF [test_progs] x.bpf.o` the same way.
    static func step(_ line: String) -> String? {
        guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
        let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard words.count == 2, let tool = words.first, tool.count <= 8,
            tool.first?.isUppercase == true,
            // `CLNG-BPF`, `GEN-SKEL`: the selftests' Makefile's own tools.
            tool.allSatisfy({
                $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_" || $0 == "-")
            })
        else { return nil }
        return "\(tool) \(words[1].trimmingCharacters(in: .whitespaces))"
    }

    /// A compiler, assembler or linker error: `file:line:col: error: text`,
    /// `file: error: text` (objtool, ld), or an undefined reference.
    func diagnostic(_ line: String) -> BuildError? {
        for marker in [": fatal error: ", ": error: "] {
            guard let range = line.range(of: marker) else { continue }
            let location = line[..<range.lowerBound].split(
                separator: ":", omittingEmptySubsequences: false)
            let message = "error: " + line[range.upperBound...]
            guard let path = location.first, !path.isEmpty, !path.contains(" ") else {
                return BuildError(file: nil, line: nil, message: String(line))
            }
            let number = location.count > 1 ? Int(location[1]) : nil
            return BuildError(file: relative(String(path)), line: number, message: message)
        }
        if let range = line.range(of: ": undefined reference to ") {
            let path = line[..<range.lowerBound].split(separator: ":").first.map(String.init)
            return BuildError(
                file: path.map(relative), line: nil,
                message: "undefined reference to " + line[range.upperBound...])
        }
        return nil
    }

    /// `*** The source tree is not clean, …` (a message), or make's own
    /// `make[2]: *** [Makefile:12: x.o] Error 1` (only the consequence, so the
    /// caller keeps looking for a message).
    static func makeMessage(_ line: String) -> (text: String, isConsequence: Bool)? {
        guard let range = line.range(of: "*** ") else { return nil }
        let text = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return nil }
        let consequence = line.hasPrefix("make") && text.hasPrefix("[")
        return (consequence ? String(line) : text, consequence)
    }

    /// `path` relative to the tree or build directory when it lies inside one.
    func relative(_ path: String) -> String {
        for prefix in prefixes where path.hasPrefix(prefix) {
            return String(path.dropFirst(prefix.count))
        }
        return path
    }

    /// Without ANSI color sequences (ccache can ask GCC for them) or a CR.
    static func plain(_ line: String) -> String {
        guard line.contains("\u{1b}") || line.hasSuffix("\r") else { return line }
        var out = ""
        var escape = false
        for scalar in line.unicodeScalars {
            if escape {
                if (0x40...0x7e).contains(scalar.value) && scalar != "[" { escape = false }
            } else if scalar == "\u{1b}" {
                escape = true
            } else if scalar != "\r" {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

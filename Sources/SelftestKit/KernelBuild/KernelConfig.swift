import Foundation

/// Kconfig settings as text files hold them: `CONFIG_X=y` and
/// `# CONFIG_X is not set`, in file order. Pure: parses and compares text.
public struct KernelConfig: Sendable, Equatable {
    /// One `CONFIG_` line: the symbol (with its prefix) and its value, `n` when not set.
    public struct Setting: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }

        /// The line as a `.config` or fragment writes it.
        public var line: String {
            value == "n" ? "# \(name) is not set" : "\(name)=\(value)"
        }
    }

    /// Every setting in file order; a later line for the same symbol wins.
    public var settings: [Setting]

    public init(settings: [Setting]) { self.settings = settings }

    /// Parses a `.config` or a fragment; comments and blank lines are skipped.
    public init(parsing text: String) {
        var settings: [Setting] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("CONFIG_"), let equals = line.firstIndex(of: "=") {
                let name = String(line[..<equals])
                let value = String(line[line.index(after: equals)...])
                if Self.isSymbol(name) { settings.append(Setting(name, value)) }
            } else if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                let name = String(line.dropFirst(2).dropLast(" is not set".count))
                if Self.isSymbol(name) { settings.append(Setting(name, "n")) }
            }
        }
        self.settings = settings
    }

    /// The final value of each symbol (last line wins).
    public var values: [String: String] {
        Dictionary(settings.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// The value of `name` in a resolved `.config`: `n` when it is absent,
    /// as Kconfig treats a symbol whose dependencies hide it.
    public func value(of name: String) -> String {
        values[name] ?? "n"
    }

    /// Fragments merged in order, later ones overriding earlier ones, as
    /// `merge_config.sh` does: the options they ask for, each once.
    public static func requested(by fragments: [KernelConfig]) -> KernelConfig {
        var order: [String] = []
        var latest: [String: String] = [:]
        for setting in fragments.flatMap(\.settings) {
            if latest[setting.name] == nil { order.append(setting.name) }
            latest[setting.name] = setting.value
        }
        return KernelConfig(settings: order.map { Setting($0, latest[$0] ?? "n") })
    }

    /// The requested settings this resolved config does not honour.
    /// `m` is honoured by `y`: without CONFIG_MODULES Kconfig builds it in.
    public func unmet(_ requested: KernelConfig) -> [Mismatch] {
        let actual = values
        return requested.settings.compactMap { wanted in
            let got = actual[wanted.name] ?? "n"
            if Self.honours(got, wanted.value) { return nil }
            return Mismatch(name: wanted.name, requested: wanted.value, actual: got)
        }
    }

    static func honours(_ actual: String, _ requested: String) -> Bool {
        if actual == requested { return true }
        if requested == "m" && actual == "y" { return true }
        // A string may be written with or without its quotes.
        return unquoted(actual) == unquoted(requested)
    }

    static func unquoted(_ value: String) -> String {
        guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else { return value }
        return String(value.dropFirst().dropLast())
    }

    static func isSymbol(_ name: String) -> Bool {
        name.count > 7
            && name.dropFirst(7).allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_")
            }
    }

    /// One option that did not end up as asked.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var requested: String
        public var actual: String

        public var description: String {
            "\(name)=\(requested) (got \(actual == "n" ? "not set" : actual))"
        }
    }
}

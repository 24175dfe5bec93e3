/// A problem that stops the runner: what went wrong, where, and how to fix it.
///
/// A test failing is never one of these; it is a `TestRecord`.
public struct SelftestError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Bad input from the user: a path, an option value.
        case usage
        /// The machine lacks a tool or a library.
        case environment
        /// The runner itself could not do its work (a tool crashed, I/O failed).
        case infrastructure
        /// The user pressed Ctrl-C.
        case interrupted
    }

    public var kind: Kind
    public var message: String
    /// What to do about it, when the runner knows.
    public var fix: String?

    public init(_ kind: Kind, _ message: String, fix: String? = nil) {
        self.kind = kind
        self.message = message
        self.fix = fix
    }

    public var description: String {
        fix.map { "\(message)\n  fix: \($0)" } ?? message
    }

    /// Exit codes: 2 usage or environment, 3 runner failure, 130 interrupted.
    /// (0 and 1 are the verdicts: all passed, something did not.)
    public var exitCode: Int32 {
        switch kind {
        case .usage, .environment: 2
        case .infrastructure: 3
        case .interrupted: 130
        }
    }
}

/// A problem that stops the runner: what went wrong, which input, and how to
/// fix it.
///
/// A test failing is never one of these; it is a `TestRecord`.
public struct SelftestError: Error, CustomStringConvertible, Sendable, Equatable {
    /// How the run ends: decides the exit code.
    public enum Kind: Sendable, Equatable {
        /// Bad input from the user: a path, an option value.
        case usage
        /// The machine lacks a tool or a library.
        case environment
        /// The runner itself could not do its work (a tool crashed, I/O failed).
        case infrastructure
        /// The user pressed Ctrl-C.
        case interrupted
    }

    /// What the problem is about, so that a caller or a test can tell
    /// problems apart without reading the message.
    public enum Domain: String, Sendable, Equatable {
        /// The kernel to test: `--kernel`, `--vmlinux`, the default kernel.
        case kernelInput = "kernel"
        /// The cache directory and what it holds.
        case cache
        /// The report files: `--junit`, `--json`, `--markdown`, ….
        case reports
        /// QEMU, KVM and the limits of this host.
        case machine
        /// A kernel source tree, its commits and series.
        case tree
        /// An option value or a selection (`--filter`, `--cpus`, …).
        case options
        /// The runner's own tools and their failures (clang, make, cpio).
        case runner
    }

    public var kind: Kind
    public var domain: Domain
    public var message: String
    /// The input at fault, as the user wrote it (`--vmlinux /bin/ls`).
    public var input: String?
    /// What to do about it, when the runner knows.
    public var fix: String?

    public init(
        _ kind: Kind, _ message: String, fix: String? = nil, domain: Domain = .runner,
        input: String? = nil
    ) {
        self.kind = kind
        self.domain = domain
        self.message = message
        self.input = input
        self.fix = fix
    }

    /// The same, in the order the error reads: what about, what went
    /// wrong, which input, the fix.
    public init(
        _ kind: Kind, _ domain: Domain, _ message: String, input: String? = nil,
        fix: String? = nil
    ) {
        self.init(kind, message, fix: fix, domain: domain, input: input)
    }

    /// One shape for every error: the problem, then the input and the fix
    /// on their own lines.
    public var description: String {
        var text = message
        if let input { text += "\n  input: \(input)" }
        if let fix { text += "\n  fix: \(fix)" }
        return text
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

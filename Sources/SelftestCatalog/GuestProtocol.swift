/// The words the host and the guest agent exchange, defined once for both:
/// the plan the host puts in the image, the comments the agent adds to its
/// KTAP on the results port, and the markers it writes to `/dev/kmsg`.

/// One line of the plan the host puts in the image (`/selftests/plan`):
/// `name<TAB>timeout`, then for a test_progs entry `<TAB>` and its
/// arguments, separated by U+001F, which no argument holds.
public struct PlannedTest: Sendable, Equatable {
    public var name: String
    public var timeoutSeconds: Int
    public var arguments: [String]

    public init(name: String, timeoutSeconds: Int, arguments: [String] = []) {
        self.name = name
        self.timeoutSeconds = timeoutSeconds
        self.arguments = arguments
    }

    public init(_ spec: TestSpec) {
        self.init(
            name: spec.name, timeoutSeconds: spec.timeoutSeconds, arguments: spec.arguments)
    }

    static let argumentSeparator: Character = "\u{1F}"

    /// The line, with its newline.
    public var line: String {
        let tail =
            arguments.isEmpty
            ? "" : "\t" + arguments.joined(separator: String(Self.argumentSeparator))
        return "\(name)\t\(timeoutSeconds)\(tail)\n"
    }

    /// A line without its name is nothing; a missing or bad bound is the
    /// default one.
    public init?(line: Substring) {
        let fields = line.split(separator: "\t")
        guard let name = fields.first, !name.isEmpty else { return nil }
        self.init(
            name: String(name),
            timeoutSeconds: fields.count > 1
                ? Int(fields[1]) ?? TestSpec.defaultTimeoutSeconds
                : TestSpec.defaultTimeoutSeconds,
            arguments: fields.count > 2
                ? fields[2].split(separator: Self.argumentSeparator).map(String.init) : [])
    }

    /// The whole plan for `tests`, in their order.
    public static func plan(_ tests: [TestSpec]) -> String {
        tests.map { PlannedTest($0).line }.joined()
    }

    /// Every test of a plan, in its order.
    public static func parse(plan text: String) -> [PlannedTest] {
        text.split(separator: "\n").compactMap { PlannedTest(line: $0) }
    }
}

/// The port the host hands tests on when several guests share one queue
/// of tests (`--jobs`): a line of `PlannedTest` at a time, as a guest
/// becomes free, and `end` when none is left. A guest with this port takes
/// its tests from it, not from the plan in its image.
public enum QueuePort {
    public static let name = "selftests.queue"
    /// The line after the last test.
    public static let end = "end"
    public static var endLine: String { "\(end)\n" }
}

/// The comments the agent adds to the KTAP it writes on the results port,
/// as the host reads them (the text after `# `).
public enum ResultsComment {
    /// Before each test's lines, so that the host knows which test was
    /// running when a guest stops before its result.
    public static let startPrefix = "start "
    /// After the version line: the agent takes its tests from the queue
    /// port, so its plan line (`1..N`) comes after the last test.
    public static let queue = "selftests: queue"
    /// After the last test: the agent finished the plan.
    public static let done = "selftests: done"
    /// A line test_progs printed, relayed as it came.
    public static let testProgsLine = "tp| "
    /// How a test_progs process ended: `exit N`, `signal N`, `killed S`,
    /// `not-started WHY`.
    public static let testProgsEnd = "tp-end: "

    /// The line that opens `test`'s output.
    public static func start(_ test: String) -> String { "# \(startPrefix)\(test)\n" }

    /// The line that closes the stream.
    public static var doneLine: String { "# \(done)\n" }

    /// The test a comment says is starting, if it is a start comment.
    public static func startedTest(_ comment: String) -> String? {
        comment.hasPrefix(startPrefix) ? String(comment.dropFirst(startPrefix.count)) : nil
    }
}

/// The line the agent writes to `/dev/kmsg` as a test starts and ends, so
/// that a kernel splat on the console can be pinned on the running test.
public struct TestMarker: Sendable, Equatable {
    /// Whether the marker opens or closes a test.
    public enum Kind: String, Sendable, CaseIterable { case start, end }

    public var kind: Kind
    public var test: String

    public init(_ kind: Kind, _ test: String) {
        self.kind = kind
        self.test = test
    }

    /// The text as the console shows it, after the kernel's own prefix.
    public var text: String { "selftests: \(kind.rawValue) \(test)" }

    /// The record for `/dev/kmsg`: `<5>` is KERN_NOTICE, which the console
    /// prints at the default log level.
    public var kmsgRecord: String { "<5>\(text)\n" }

    /// The marker a console line holds (its kernel prefix already
    /// stripped); nil for any other line or a marker without a name.
    public init?(consoleText text: Substring) {
        for kind in Kind.allCases {
            let prefix = "selftests: \(kind.rawValue) "
            guard text.hasPrefix(prefix) else { continue }
            let name = text.dropFirst(prefix.count).trimming(" \t")
            if name.isEmpty { return nil }
            self.init(kind, String(name))
            return
        }
        return nil
    }
}

/// One test the suite knows: its name, the BPF object it needs, and its bounds.
///
/// The catalog is shared by the host (listing, filtering, turning a missing
/// object into `build-error`) and the guest agent (which looks up the body to
/// run by name). A name is a path: `group/subgroup/case`.
public struct TestSpec: Sendable, Hashable, Codable {
    /// Full name, e.g. `storage/sk/omem_charge_delete`.
    public var name: String
    /// What the test proves, one line.
    public var summary: String
    /// The `progs/` object the test loads (`sk_storage_omem` for
    /// `progs/sk_storage_omem.bpf.c`), or nil for tests that need none.
    public var object: String?
    /// The guest agent kills the test after this many seconds.
    public var timeoutSeconds: Int
    /// About how long the test runs under TCG on 2 vCPUs (measured on the
    /// default 6.12 kernel): a hint for spreading tests over guests
    /// (`--jobs`), never a bound. Most tests take well under a second.
    public var expectedSeconds: Double
    /// Fixture tests prove the runner itself (a deliberate failure, hang,
    /// crash, warning). They run only when a filter names them explicitly.
    public var isFixture: Bool
    /// Tests left out of the default run (fixtures; the 1M-entry memory
    /// cases) run only when a filter pattern starts with this prefix.
    /// Fixtures get `fixture`.
    public var optInPrefix: String?
    /// For an entry of the tree's own test_progs (`test_progs/<test>`): the
    /// arguments the guest agent passes to it. Empty for the catalog's tests.
    public var arguments: [String] = []

    public init(
        _ name: String, _ summary: String, object: String? = nil,
        timeoutSeconds: Int = Self.defaultTimeoutSeconds,
        expectedSeconds: Double? = nil, isFixture: Bool = false, optInPrefix: String? = nil
    ) {
        self.name = name
        self.summary = summary
        self.object = object
        self.timeoutSeconds = timeoutSeconds
        self.expectedSeconds = expectedSeconds ?? min(Self.typicalSeconds, Double(timeoutSeconds))
        self.isFixture = isFixture
        self.optInPrefix = optInPrefix ?? (isFixture ? "fixture" : nil)
    }

    /// The bound of a test that sets none (and of a plan line without one).
    public static let defaultTimeoutSeconds = 30

    /// What a test without a measured `expectedSeconds` is taken to run.
    public static let typicalSeconds = 0.5

    /// The first path component: `storage` for `storage/sk/omem_charge_delete`.
    public var group: String {
        String(name.split(separator: "/", maxSplits: 1).first ?? Substring(name))
    }
}

/// The list of every test, in the order they run.
public enum Catalog {
    /// Suites in run order; each lives in its own `Catalog+Suite.swift`.
    public static let all: [TestSpec] = storage + hash + memory + fixtures

    public static func spec(named name: String) -> TestSpec? {
        all.first { $0.name == name }
    }
}

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
    /// Fixture tests prove the runner itself (a deliberate failure, hang,
    /// crash, warning). They run only when a filter names them explicitly.
    public var isFixture: Bool

    public init(
        _ name: String, _ summary: String, object: String? = nil, timeoutSeconds: Int = 30,
        isFixture: Bool = false
    ) {
        self.name = name
        self.summary = summary
        self.object = object
        self.timeoutSeconds = timeoutSeconds
        self.isFixture = isFixture
    }

    /// The first path component: `storage` for `storage/sk/omem_charge_delete`.
    public var group: String {
        String(name.split(separator: "/", maxSplits: 1).first ?? Substring(name))
    }
}

/// The list of every test, in the order they run.
public enum Catalog {
    public static let all: [TestSpec] = storage + fixtures

    public static func spec(named name: String) -> TestSpec? {
        all.first { $0.name == name }
    }

    static let storage: [TestSpec] = [
        TestSpec(
            "storage/sk/omem_charge_delete",
            "socket storage is charged to SK_MEMINFO_OPTMEM on update and uncharged on delete",
            object: "sk_storage_omem"),
        TestSpec(
            "storage/sk/omem_uncharge_on_close",
            "on socket destroy, a program sees the storage and the option memory back at zero",
            object: "sk_storage_omem"),
        TestSpec(
            "storage/sk/omem_uncharge_on_map_free",
            "freeing the map while the socket lives returns its option memory to baseline",
            object: "sk_storage_omem"),
    ]

    static let fixtures: [TestSpec] = [
        TestSpec("fixture/pass", "passes: proves the harness reports success", isFixture: true),
        TestSpec(
            "fixture/fail", "fails an assertion on purpose: proves failures carry their message",
            isFixture: true),
        TestSpec(
            "fixture/skip", "skips with a reason: proves skips are not failures", isFixture: true),
        TestSpec(
            "fixture/hang", "sleeps forever: proves the agent's per-test timeout",
            timeoutSeconds: 3, isFixture: true),
        TestSpec(
            "fixture/hang_guest", "stops the agent itself: proves the host's watchdog",
            timeoutSeconds: 3, isFixture: true),
        TestSpec(
            "fixture/warn", "logs a WARN-shaped record: proves splats are pinned on the test",
            isFixture: true),
        TestSpec(
            "fixture/crash", "panics the kernel via sysrq: proves kernel-crash is detected",
            isFixture: true),
        TestSpec(
            "fixture/build_error", "needs a program that does not compile",
            object: "fixture_build_error", isFixture: true),
    ]
}

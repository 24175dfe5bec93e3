extension Catalog {
    /// Tests of the runner itself; selected only by name.
    static let fixtures: [TestSpec] = [
        TestSpec("fixture/pass", "passes: proves the harness reports success", isFixture: true),
        TestSpec(
            "fixture/fail", "fails an assertion on purpose: proves failures carry their message",
            isFixture: true),
        TestSpec(
            "fixture/skip", "skips with a reason: proves skips are not failures", isFixture: true),
        TestSpec(
            "fixture/hang", "sleeps forever: proves the agent's per-test timeout",
            timeoutSeconds: 3, expectedSeconds: 3, isFixture: true),
        TestSpec(
            "fixture/hang_guest", "stops the agent itself: proves the host's watchdog",
            timeoutSeconds: 3, expectedSeconds: 3, isFixture: true),
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

import Glibc

/// Assertions for one map variant: every message starts with the map type
/// and its flags, and errnos are shown by name.
struct HashCheck {
    let context: TestContext
    let variant: HashVariant

    func fail(_ message: String, line: UInt = #line) -> TestStop {
        .fail("\(variant.label) \(message) (line \(line))")
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: UInt = #line)
        throws
    {
        if !condition { throw fail(message(), line: line) }
    }

    /// `what`: expected EEXIST (File exists), got 0.
    func errno(_ got: Int32, _ want: Int32, _ what: String, line: UInt = #line) throws {
        if got != want {
            throw fail(
                "\(what): expected \(HashNames.errno(want)), got \(HashNames.errno(got))",
                line: line)
        }
    }

    func equal<T: Equatable>(_ got: T, _ want: T, _ what: String, line: UInt = #line) throws {
        if got != want { throw fail("\(what): expected \(want), got \(got)", line: line) }
    }

    /// A user-space lookup of `key` finds exactly `want`.
    func holds(
        _ fixture: HashFixture, _ key: HashKey, _ want: HashSlots, _ what: String,
        line: UInt = #line
    ) throws {
        let (rc, got) = fixture.lookup(key)
        try errno(rc, 0, "lookup of \(key) \(what)", line: line)
        if got != want {
            throw fail(
                "lookup of \(key) \(what): expected \(describe(want)), got \(describe(got))",
                line: line)
        }
    }

    /// A user-space lookup of `key` finds nothing.
    func absent(_ fixture: HashFixture, _ key: HashKey, _ what: String, line: UInt = #line)
        throws
    {
        try errno(fixture.lookup(key).errno, ENOENT, "lookup of \(key) \(what)", line: line)
    }

    func describe(_ slots: HashSlots) -> String {
        slots.count == 1
            ? slots[0].description
            : "[" + slots.enumerated().map { "cpu\($0): \($1)" }.joined(separator: ", ") + "]"
    }
}

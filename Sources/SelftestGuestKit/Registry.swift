/// Maps catalog names to the bodies the agent runs.
enum Registry {
    /// One table per suite, each in its own file.
    static let suites: [[String: TestBody]] = [
        FixtureTests.bodies, StorageTests.bodies, HashTests.bodies, MemoryTests.bodies,
    ]

    static let bodies: [String: TestBody] = suites.reduce(into: [:]) { all, suite in
        all.merge(suite) { first, _ in first }
    }

    /// Bodies that run in the agent's own process instead of a child.
    static let runsInAgent: Set<String> = ["fixture/hang_guest"]

    static func body(for name: String) -> TestBody? { bodies[name] }
}

/// Maps catalog names to the bodies the agent runs.
enum Registry {
    static let bodies: [String: TestBody] = FixtureTests.bodies.merging(
        SkStorageTests.bodies, uniquingKeysWith: { first, _ in first })

    /// Bodies that run in the agent's own process instead of a child.
    static let runsInAgent: Set<String> = ["fixture/hang_guest"]

    static func body(for name: String) -> TestBody? { bodies[name] }

    /// Every name that has a body, for the catalog consistency check.
    public static var names: [String] { Array(bodies.keys) }
}

/// Memory accounting tests (filled in by the memory accounting work).
enum MemoryTests {
    static let bodies: [String: TestBody] = [:]
}

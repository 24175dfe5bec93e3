/// Hash map tests (filled in by the hash suite work).
enum HashTests {
    static let bodies: [String: TestBody] = [:]
}

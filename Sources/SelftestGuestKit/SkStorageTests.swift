/// Socket local storage tests (filled in by the storage work).
enum SkStorageTests {
    static let bodies: [String: TestBody] = [:]
}

/// The local storage suite: socket, task, cgroup and inode storage, and the
/// map_free / owner destroy race, one table per file merged here.
enum StorageTests {
    static let tables: [[String: TestBody]] = [
        SkStorageTests.bodies, SkStorageAccessTests.bodies, SkStorageFamilyTests.bodies,
        TaskStorageTests.bodies, TaskStorageRecursionTests.bodies, CgrpStorageTests.bodies,
        InodeStorageTests.bodies, StorageRaceTests.bodies,
    ]

    /// Each body first checks that the Swift mirrors of the C values match.
    static let bodies: [String: TestBody] = tables.reduce(into: [:]) { all, table in
        all.merge(table) { first, _ in first }
    }.mapValues { body in
        { context in
            try StorageLayout.check(context)
            try body(context)
        }
    }
}

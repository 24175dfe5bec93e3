extension Catalog {
    /// Hash maps: HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH.
    static let hash: [TestSpec] = []
}

extension Catalog {
    /// BPF memory accounting: what maps cost against what the kernel reports.
    static let memory: [TestSpec] = []
}

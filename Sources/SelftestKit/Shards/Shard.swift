/// One runner's share of a selection, `--shard K/N`, so that a CI matrix of
/// N runners tests the whole selection once between them.
public struct Shard: Sendable, Codable, Equatable, CustomStringConvertible {
    /// 1-based, as CI matrices count.
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Reads `K/N` (1 ≤ K ≤ N), naming the option when it is not one.
    public init(parsing text: String, option: String = "--shard") throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
            (1...count).contains(index)
        else {
            throw SelftestError(
                .usage, .options, "\(option) takes K/N with 1 ≤ K ≤ N",
                input: "\(option) \(text)",
                fix: "e.g. --shard 1/4 … --shard 4/4 on four runners, then `selftests merge`")
        }
        self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's items: the i-th item of the selection goes to shard
    /// `i mod N + 1`. Stable (the same selection always splits the same
    /// way, whatever the runner), balanced by count (shares differ by one
    /// at most), and it spreads neighbours, so a group of heavy tests next
    /// to each other in the catalog (memory/*, the storage races) lands on
    /// different runners. Without durations (`select(_:name:durations:)`),
    /// count is the best balance the runner can know.
    public func select<T>(_ items: [T]) -> [T] {
        items.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}

/// What a sharded run records in its report so that `selftests merge` can
/// check that the shards belong together: which share, of which selection.
public struct ShardRecord: Sendable, Codable, Equatable {
    public var shard: Shard
    /// Every test the whole selection holds, in order, across all shards.
    public var selection: [String]
    /// The digest of the durations the share was balanced by
    /// (`ShardDurations.digest`); nil: balanced by count.
    public var durationsDigest: String?

    public init(shard: Shard, selection: [String], durationsDigest: String? = nil) {
        self.shard = shard
        self.selection = selection
        self.durationsDigest = durationsDigest
    }
}

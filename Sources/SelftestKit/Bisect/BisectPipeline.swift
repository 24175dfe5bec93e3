import Foundation

/// `selftests bisect`: the first commit of `good..bad` that breaks the
/// selected tests, found in the tree's worktree.
public struct BisectPipeline: Sendable {
    /// The run's options; `tree` is required.
    public var options: RunOptions
    public var good: String
    public var bad: String
    public var retries = 2
    public var observer: SeriesObserver
    public var runObserver: RunObserver
    public var buildObserver: (any KernelBuildObserver)?

    public init(
        options: RunOptions, good: String, bad: String, observer: SeriesObserver,
        runObserver: RunObserver
    ) {
        self.options = options
        self.good = good
        self.bad = bad
        self.observer = observer
        self.runObserver = runObserver
    }

    public func run() throws -> BisectReport {
        guard let treePath = options.tree else {
            throw SelftestError(.usage, "a bisect needs --tree", fix: "pass --tree DIR")
        }
        let tree = URL(fileURLWithPath: treePath).standardizedFileURL
        let repository = try Worktree.repository(tree)
        let bad = try SeriesPlan.resolve(self.bad, in: repository, option: "--bad")
        _ = try SeriesPlan.resolve(good, in: repository, option: "--good")
        let bench = try TestBench(
            options: options, observer: runObserver, buildObserver: buildObserver)
        let directory = try RunDirectories.create(in: bench.cache, kind: "bisect")
        let worktree = try Worktree.open(tree: tree, at: bad, cache: bench.cache)
        defer { worktree.close() }
        observer.note("worktree \(worktree.path.path); artifacts \(directory.path)")
        let bisector = Bisector(
            tester: bench, worktree: worktree, retries: retries, observer: observer,
            directory: directory)
        return try bisector.run(good: good, bad: self.bad)
    }
}

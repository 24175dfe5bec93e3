import Foundation

/// `selftests series` and `selftests bisect`: a source tree's commits, each
/// built, booted and tested in the tree's worktree through one `TestBench`,
/// with one run directory for all of them.
public struct TreePipeline: Sendable {
    /// The run's options; `tree` is required.
    public var options: RunOptions
    public var retries = 2
    public var observer: SeriesObserver
    /// Where each kernel's run reports its notes and tests.
    public var runObserver: RunObserver
    public var buildObserver: (any KernelBuildObserver)?

    public init(options: RunOptions, observer: SeriesObserver, runObserver: RunObserver) {
        self.options = options
        self.observer = observer
        self.runObserver = runObserver
    }

    /// The base and every patch of a series; the report names each
    /// regression's first bad patch.
    public func series(_ source: SeriesSource) throws -> SeriesReport {
        let (repository, bench) = try setUp()
        return try bench.namingTheCache { try series(source, repository, bench) }
    }

    private func series(_ source: SeriesSource, _ repository: Git, _ bench: TestBench) throws
        -> SeriesReport
    {
        let directory = try RunDirectories.create(in: bench.cache, kind: "series")
        let plan: SeriesPlan
        let worktree: Worktree
        do {
            (plan, worktree) = try prepare(
                source, repository, cache: bench.cache, directory: directory)
        } catch {
            // Bad input: nothing ran, so nothing is worth keeping.
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        defer { worktree.close() }
        observer.note(
            "series \"\(plan.title)\": \(plan.patches.count) of \(plan.total) patch(es) on "
                + "\(plan.base.commit.prefix(12)) (\(plan.baseNote))")
        let driver = driver(bench, worktree, directory)
        var report = try driver.series(plan)
        if let history = driver.history, !SeriesMemory.tables(report).isEmpty {
            report.memoryNoise = history.memoryNoise()
        }
        return report
    }

    /// The first commit of `good..bad` that breaks the selected tests.
    public func bisect(good: String, bad: String) throws -> BisectReport {
        let (repository, bench) = try setUp()
        return try bench.namingTheCache { try bisect(good: good, bad: bad, repository, bench) }
    }

    private func bisect(good: String, bad: String, _ repository: Git, _ bench: TestBench) throws
        -> BisectReport
    {
        let badCommit = try SeriesPlan.resolve(bad, in: repository, option: "--bad")
        _ = try SeriesPlan.resolve(good, in: repository, option: "--good")
        let directory = try RunDirectories.create(in: bench.cache, kind: "bisect")
        let worktree = try Worktree.open(
            tree: repository.directory, at: badCommit, cache: bench.cache)
        defer { worktree.close() }
        return try driver(bench, worktree, directory).bisect(good: good, bad: bad)
    }

    /// The tree (a git work tree, or a usage error) and the bench.
    func setUp() throws -> (Git, TestBench) {
        guard let tree = options.tree else {
            throw SelftestError(
                .usage, .tree, "a series and a bisect need --tree", fix: "pass --tree DIR")
        }
        let repository = try Worktree.repository(URL(fileURLWithPath: tree).standardizedFileURL)
        let bench = try TestBench(
            options: options, observer: runObserver, buildObserver: buildObserver)
        return (repository, bench)
    }

    func driver(_ bench: TestBench, _ worktree: Worktree, _ directory: URL) -> CommitDriver {
        observer.note("worktree \(worktree.path.path); artifacts \(directory.path)")
        var driver = CommitDriver(
            tester: bench, worktree: worktree, retries: retries, observer: observer,
            directory: directory)
        driver.history = options.history ? HistoryRecorder(cache: bench.cache) : nil
        driver.fresh = options.fresh
        return driver
    }

    /// The plan, with its commits made in the worktree (for an mbox).
    func prepare(_ source: SeriesSource, _ repository: Git, cache: Cache, directory: URL) throws
        -> (SeriesPlan, Worktree)
    {
        switch source {
        case .range(let range):
            let plan = try SeriesPlan.range(range, tree: repository)
            let worktree = try Worktree.open(
                tree: repository.directory, at: plan.base.commit, cache: cache)
            return (plan, worktree)
        case .mbox(let mbox, let requested):
            let scratch = directory.appendingPathComponent("mbox")
            let mails = try MailSeries.read(mbox: mbox, scratch: scratch, git: repository)
            let base = try mails.base(requested: requested, tree: repository)
            let worktree = try Worktree.open(
                tree: repository.directory, at: base.commit, cache: cache)
            do {
                let plan = try mails.apply(
                    on: base, subject: try repository.subject(of: base.commit),
                    worktree: worktree)
                return (plan, worktree)
            } catch {
                worktree.close()
                throw error
            }
        }
    }
}

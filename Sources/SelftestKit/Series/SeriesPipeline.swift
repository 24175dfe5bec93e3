import Foundation

/// `selftests series`: a series from an mbox or a range, on a source tree;
/// the base and every patch built, booted and tested in the tree's worktree.
public struct SeriesPipeline: Sendable {
    /// The run's options; `tree` is required.
    public var options: RunOptions
    public var source: SeriesSource
    public var retries = 2
    public var observer: SeriesObserver
    /// Where each kernel's run reports its notes and tests.
    public var runObserver: RunObserver
    public var buildObserver: (any KernelBuildObserver)?

    public init(
        options: RunOptions, source: SeriesSource, observer: SeriesObserver,
        runObserver: RunObserver
    ) {
        self.options = options
        self.source = source
        self.observer = observer
        self.runObserver = runObserver
    }

    public func run() throws -> SeriesReport {
        guard let treePath = options.tree else {
            throw SelftestError(.usage, "a series needs --tree", fix: "pass --tree DIR")
        }
        let tree = URL(fileURLWithPath: treePath).standardizedFileURL
        let repository = try Worktree.repository(tree)
        let bench = try TestBench(
            options: options, observer: runObserver, buildObserver: buildObserver)
        let directory = try RunDirectories.create(in: bench.cache, kind: "series")
        let (plan, worktree) = try prepare(repository, cache: bench.cache, directory: directory)
        defer { worktree.close() }
        observer.note(
            "series \"\(plan.title)\": \(plan.patches.count) of \(plan.total) patch(es) on "
                + "\(plan.base.commit.prefix(12)) (\(plan.baseNote))")
        observer.note("worktree \(worktree.path.path); artifacts \(directory.path)")
        let runner = SeriesRunner(
            tester: bench, worktree: worktree, retries: retries, observer: observer,
            directory: directory)
        return try runner.run(plan)
    }

    /// The plan, with its commits made in the worktree (for an mbox).
    func prepare(_ repository: Git, cache: Cache, directory: URL) throws -> (
        SeriesPlan, Worktree
    ) {
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

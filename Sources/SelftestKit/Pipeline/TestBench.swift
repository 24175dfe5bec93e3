import Foundation
import SelftestCatalog
import Synchronization

/// What stays the same across every kernel of a run: the selected tests,
/// the tools, the cache, how the guest runs. `run(kernel:tests:in:)` is the
/// pipeline from one kernel to its verdicts (BTF → progs → image → VM →
/// records); `run`, `series` and `bisect` all go through it, once per kernel.
public final class TestBench: Sendable {
    public let options: RunOptions
    public let observer: RunObserver
    /// Where a tree's build shows its progress.
    public let buildObserver: any KernelBuildObserver
    /// The selected tests (this shard's share of them), with
    /// `--test-timeout` applied.
    public let tests: [TestSpec]
    /// For `--shard K/N`: the share and the whole selection, for the report.
    public let shard: ShardRecord?
    public let cache: Cache
    public let digests: FileDigests
    /// The bound `images/` is pruned to after each kernel; nil: not pruned.
    public let imagesMax: Int64?
    let toolchain: Toolchain
    /// How QEMU and make are started and time is kept.
    public let host: HostContext
    /// Decided at the first boot (the KVM probe needs a kernel), then kept.
    private let accelerator = Mutex<AcceleratorChoice?>(nil)

    public init(
        options: RunOptions, observer: RunObserver, buildObserver: (any KernelBuildObserver)? = nil,
        host: HostContext = .live
    ) throws {
        try options.check()
        self.options = options
        self.host = host
        self.observer = observer
        self.buildObserver = buildObserver ?? NoteBuildObserver(observer: observer)
        let selection = try Self.selectTests(filter: options.filter).map { spec in
            var spec = spec
            if let timeout = options.testTimeout { spec.timeoutSeconds = timeout }
            return spec
        }
        let names = selection.map(\.name)
        self.shard = options.shard.map {
            ShardRecord(
                shard: $0, selection: names,
                durationsDigest: options.shardDurations?.digest(for: names))
        }
        self.tests =
            options.shard?.select(selection, name: \.name, durations: options.shardDurations)
            ?? selection
        self.cache = Cache(root: options.cacheDirectory ?? Cache.defaultRoot())
        try cache.checkWritable(input: Cache.input(cacheDirectory: options.cacheDirectory))
        // What a runner killed with SIGKILL left; an interrupted one cleans up itself.
        Scratch.sweep(cache.entry("tmp"))
        self.digests = FileDigests(store: cache.entry("digests.json"))
        self.imagesMax = try CachePruner.automaticImagesMax()
        self.toolchain = try Toolchain.discover(runner: host.runner, digests: digests)
    }

    /// The tests a run with this filter and shard runs, in order.
    public static func selectTests(
        filter: String?, shard: Shard?, durations: ShardDurations? = nil
    ) throws -> [TestSpec] {
        let selection = try selectTests(filter: filter)
        return shard?.select(selection, name: \.name, durations: durations) ?? selection
    }

    /// The tests `filter` selects. Every glob in it must select something,
    /// and a filter given must hold a glob: '' or ',,,' is a slip, not a
    /// request for the whole suite.
    public static func selectTests(filter: String?) throws -> [TestSpec] {
        let testFilter = TestFilter(filter)
        let input = "--filter '\(filter ?? "")'"
        if filter != nil && testFilter.patterns.isEmpty {
            throw SelftestError(
                .usage, "--filter holds no glob", fix: Self.filterFix + ", or leave out --filter",
                domain: .options, input: input)
        }
        let unmatched = testFilter.unmatched(in: Catalog.all)
        if !unmatched.isEmpty {
            let names = unmatched.map { "'\($0)'" }.joined(separator: ", ")
            throw SelftestError(
                .usage, "no test matches \(names) in --filter", fix: Self.filterFix,
                domain: .options, input: input)
        }
        let selected = testFilter.select(from: Catalog.all)
        if selected.isEmpty {
            throw SelftestError(
                .usage, "no test matches --filter", fix: Self.filterFix, domain: .options,
                input: input)
        }
        return selected
    }

    static let filterFix = "run `selftests list` to see the names; globs like 'storage/*' work"

    /// Builds `tree` with the run's config fragments, incrementally. A tree
    /// that does not compile is a `.failed` result, not an error.
    public func build(tree: URL) throws -> KernelBuildResult {
        var request = KernelBuildRequest(tree: tree, configs: options.configs)
        request.timeout = options.buildTimeout
        return try KernelBuilder(request: request, cache: cache, host: host)
            .build(observer: buildObserver)
    }

    /// Runs `body`; a full filesystem met anywhere in it, in a scratch or
    /// an entry directory, is said about the cache the user chose.
    public func namingTheCache<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SelftestError
            where error.kind == .environment && error.domain == .cache
        {
            throw Cache.full(cache.root, input: Cache.input(cacheDirectory: options.cacheDirectory))
        }
    }

    /// The kernel a run without `--tree` boots: `--kernel`, or the default.
    public func prebuiltKernel() throws -> KernelUnderTest {
        let image =
            try options.kernel.map {
                try KernelImage(path: $0, vmlinux: options.vmlinux, input: "--kernel \($0)")
            } ?? KernelImage.defaultKernel(cache: cache)
        if let vmlinux = options.vmlinux { try VmlinuxFile.check(vmlinux, against: image) }
        return try KernelUnderTest.prebuilt(image, digests: digests)
    }

    /// The whole pipeline on one kernel: BTF, programs, image, boots,
    /// verdicts. `tests` defaults to the selection; `directory` holds this
    /// run's console logs and KTAP.
    public func run(
        kernel: KernelUnderTest, tests: [TestSpec]? = nil, testProgs: TestProgsChoice = .all,
        in directory: URL
    ) throws -> RunReport {
        defer { digests.save() }
        // The images this kernel boots stay until its boots end; then the
        // least recently used beyond the bound go (only `images/` is read).
        let pins = ImagePins()
        defer {
            pins.release()
            pruneImages()
        }
        let tests = tests ?? self.tests
        let clock = PhaseClock(host.clock)
        observer.note("kernel \(kernel.image.release ?? "?") (\(kernel.image.path))")
        let probe = startProbe(kernel: kernel)
        let testProgs = try prepareTestProgs(kernel: kernel, choice: testProgs, pins: pins)
        if options.testProgs != nil { clock.end(.testProgsBuild) }

        let header = try VmlinuxHeader.make(
            for: kernel.image, toolchain: toolchain, cache: cache, digests: digests,
            runner: host.runner, note: observer.note)
        let compiler = ProgramCompiler(
            progsDirectory: options.progsDirectory ?? RunPipeline.defaultProgsDirectory,
            toolchain: toolchain, header: header, cache: cache, runner: host.runner,
            digests: digests, note: observer.note)
        let needed = Array(Set(tests.compactMap(\.object))).sorted()
        let products = try compiler.compile(needed)
        var objects: [String: URL] = [:]
        var buildErrors: [String: String] = [:]
        for (name, product) in products {
            switch product {
            case .object(let url, _): objects[name] = url
            case .failed(let message): buildErrors[name] = message
            }
        }
        let cached = products.values.filter {
            if case .object(_, true) = $0 { true } else { false }
        }.count
        let programs = ProgramCounts(
            compiled: objects.count - cached, cached: cached, failed: buildErrors.count)
        if !needed.isEmpty {
            observer.note(
                "programs: \(programs.compiled) compiled, \(programs.cached) cached, "
                    + "\(programs.failed) failed")
        }
        clock.end(.compile)

        var image = try GuestImage.make(
            agent: options.agent ?? RunPipeline.defaultAgent, objects: objects,
            toolchain: toolchain, cache: cache, digests: digests, runner: host.runner, pins: pins,
            note: observer.note)
        image.extras = testProgs.payload.map { [$0] } ?? []
        let pvh = PVHKernel.vmlinux(
            for: kernel.image, cache: cache, digests: digests, runner: host.runner)
        clock.end(.image)

        let choice = try decideAccelerator(probe)
        clock.end(.probe)

        var records: [TestRecord] = testProgs.records
        var toRun: [TestSpec] = []
        for test in tests {
            if let object = test.object, let message = buildErrors[object] {
                let record = TestRecord(
                    name: test.name, outcome: .buildError,
                    message: "progs/\(object).bpf.c does not compile:\n\(message)")
                observer.finished(record)
                records.append(record)
            } else {
                toRun.append(test)
            }
        }
        toRun += testProgs.specs

        var report = RunReport(
            kernel: kernel.image.path, kernelRelease: kernel.image.release,
            accelerator: RunAccelerators([choice.accelerator]),
            startedAt: ISO8601DateFormatter().string(from: clock.started),
            artifactsDirectory: directory.path)
        report.kernelIdentity = kernel.identity
        report.shard = shard
        report.programs = programs
        if !toRun.isEmpty {
            var session = GuestSession(
                toolchain: toolchain, kernel: kernel.image, image: image,
                accelerator: choice.accelerator, runDirectory: directory,
                bootTimeout: options.bootTimeout, grace: options.watchdogGrace,
                runDeadline: clock.started.addingTimeInterval(options.runTimeout),
                runTimeout: options.runTimeout,
                memoryMiB: options.memoryMiB, cpus: options.cpus,
                tcgThreading: options.tcgThreading,
                host: host)
            session.bootVmlinux = pvh
            // KVM that failed to run the guest is not tried by the next `auto`.
            let kvm = KVMProbe(qemu: toolchain.qemu, cache: cache, digests: digests)
            session.kvmFailed = { [host] in kvm.record(.broken($0), runner: host.runner) }
            var pool = GuestPool(session: session, jobs: jobs(for: choice.accelerator))
            if pool.jobs > 1 && options.history {
                pool.recorded = recordedSeconds(of: toRun.map(\.name), on: kernel.identity)
            }
            let outcome = try pool.run(toRun, note: { [observer] in observer.note($0) }) {
                [observer] in observer.finished($0)
            }
            records += outcome.records
            report.unattributedSplats = outcome.unattributedSplats
            report.kernelRelease = outcome.kernelRelease ?? report.kernelRelease
            for (phase, seconds) in outcome.phases { report.phases[phase.rawValue] = seconds }
        }
        // Ours in the catalog's order, then test_progs' in its own.
        let order = Dictionary(
            (tests + testProgs.specs).enumerated().map { ($1.name, $0) },
            uniquingKeysWith: { a, _ in a })
        report.records = records.sorted {
            (order[$0.name] ?? Int.max) < (order[$1.name] ?? Int.max)
        }
        for (phase, seconds) in clock.phases { report.phases[phase] = seconds }
        return report
    }

    /// The guests to boot at once: `--jobs N`; without it (or `--jobs 0`)
    /// as many as the host's cores keep busy and its memory holds: on 2
    /// cores, two guests sharing one queue ran the default suite in
    /// 0.57-0.59x one guest's wall (scripts/bench-jobs.sh, medians of 5
    /// pairs in two script runs, same verdicts). Not more: a third guest
    /// would fill the time the guests idle, but oversubscribed guests
    /// stretch every time bound a test has. `GuestPool` never boots more
    /// guests than there are tests.
    func jobs(for accelerator: Accelerator) -> Int {
        if let jobs = options.jobs, jobs > 0 { return jobs }
        return GuestShares.defaultJobs(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            availableMiB: GuestShares.availableMemoryMiB(), memoryMiB: options.memoryMiB,
            hostThreadsPerGuest: GuestShares.hostThreads(
                accelerator: accelerator, cpus: options.cpus,
                tcgThreading: options.tcgThreading))
    }

    /// What each of `tests` took lately on this kernel, from the results
    /// history; empty without one. Read only: a store that cannot be read
    /// leaves the split to the catalog's estimates.
    func recordedSeconds(of tests: [String], on identity: KernelIdentity) -> [String: Double] {
        guard let store = try? HistoryStore.existing(in: cache) else { return [:] }
        return
            (try? store.recentPassingSeconds(onKernel: KernelKey.of(identity), tests: tests)) ?? [:]
    }

    /// Prunes `images/` to `imagesMax`, saying what went.
    func pruneImages() {
        guard let imagesMax else { return }
        let result = CachePruner(cache: cache).pruneImages(max: imagesMax)
        let images = result.removed.filter { !$0.name.hasPrefix(".tmp-") }.count
        guard !result.removed.isEmpty else { return }
        observer.note(
            "cache: removed \(images) least recently used image(s), "
                + "\(ByteSize.format(result.freed)) freed, to keep images/ under "
                + "\(ByteSize.format(imagesMax)) (\(CachePruner.imagesMaxVariable))")
    }

    /// The KVM probe boots a guest for seconds; it overlaps compiling. Nil
    /// when the accelerator is already decided or needs no probe.
    private func startProbe(kernel: KernelUnderTest) -> Probe? {
        guard accelerator.withLock({ $0 == nil }), options.accelerator == .auto else { return nil }
        let probe = Probe()
        let kvm = KVMProbe(qemu: toolchain.qemu, cache: cache, digests: digests)
        let (path, runner) = (kernel.image.path, host.runner)
        DispatchQueue.global().async {
            probe.state.withLock { $0 = kvm.state(kernel: path, runner: runner) }
            probe.done.signal()
        }
        return probe
    }

    private func decideAccelerator(_ probe: Probe?) throws -> AcceleratorChoice {
        if let decided = accelerator.withLock({ $0 }) { return decided }
        probe?.done.wait()
        var state = probe?.state.withLock { $0 } ?? .unprobed
        if options.accelerator == .kvm {
            // No probe for `--accel kvm`, but what one already found counts.
            state = KVMProbe(qemu: toolchain.qemu, cache: cache, digests: digests).known(
                runner: host.runner)
        }
        let choice = try AcceleratorChoice.decide(options.accelerator, kvm: state)
        if let note = choice.note { observer.note(note) }
        accelerator.withLock { $0 = choice }
        return choice
    }

    /// A probe running in the background and its answer.
    private final class Probe: Sendable {
        let state = Mutex<KVMState?>(nil)
        let done = DispatchSemaphore(value: 0)
    }
}

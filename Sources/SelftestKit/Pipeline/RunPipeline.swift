import Foundation
import SelftestCatalog
import Synchronization

/// What `selftests run` was asked to do.
public struct RunOptions: Sendable {
    public var kernel: String?
    public var vmlinux: String?
    public var filter: String?
    public var accelerator: AcceleratorChoice.Request = .auto
    public var cacheDirectory: URL?
    public var progsDirectory: URL?
    public var agent: String?
    public var bootTimeout: Double = 60
    public var runTimeout: Double = 1800
    /// Overrides every test's own bound when set.
    public var testTimeout: Int?
    /// Seconds the host waits past a test's bound before it calls the guest stuck.
    public var watchdogGrace: Double = 15
    public var memoryMiB = 1024
    public var cpus = 2
    public var tcgThreading: TCGThreading = .single
    /// A kernel source tree to build and test instead of `kernel`.
    public var tree: String?
    /// Config fragments on top of `bpf-minimal` for `tree` (names or files).
    public var configs: [String] = []

    public init() {}
}

/// Where the pipeline reports progress: notes, and each test as it ends.
public protocol RunObserver: Sendable {
    func note(_ text: String)
    func finished(_ record: TestRecord)
}

/// The whole pipeline once: kernel → BTF → progs → image → VM → verdicts.
public struct RunPipeline: Sendable {
    public var options: RunOptions
    public var observer: RunObserver
    /// Where a tree's build shows its progress; nil: as notes to `observer`.
    public var buildObserver: (any KernelBuildObserver)?

    public init(options: RunOptions, observer: RunObserver) {
        self.options = options
        self.observer = observer
    }

    /// The package's `progs/`, found from this source file's location, so
    /// `swift run` works from any directory.
    public static var defaultProgsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("progs")
    }

    /// The guest agent built next to the running executable.
    public static var defaultAgent: String {
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent()
            .appendingPathComponent("selftests-guest").path
    }

    public static func selectTests(filter: String?) throws -> [TestSpec] {
        let selected = TestFilter(filter).select(from: Catalog.all)
        if selected.isEmpty {
            throw SelftestError(
                .usage, "no test matches --filter '\(filter ?? "")'",
                fix: "run `selftests list` to see the names; globs like 'storage/*' work")
        }
        return selected
    }

    public func run() throws -> RunReport {
        let clock = PhaseClock()
        let tests = try Self.selectTests(filter: options.filter).map { spec in
            var spec = spec
            if let timeout = options.testTimeout { spec.timeoutSeconds = timeout }
            return spec
        }
        let cache = Cache(root: options.cacheDirectory ?? Cache.defaultRoot())
        let digests = FileDigests(store: cache.entry("digests.json"))
        defer { digests.save() }
        let toolchain = try Toolchain.discover()
        let kernel: KernelImage
        if let tree = options.tree {
            switch try treeKernel(tree, tests: tests, cache: cache, started: clock.started) {
            case .kernel(let built): kernel = built
            case .failed(let report): return report
            }
            clock.end("kernel-build")
        } else {
            kernel =
                try options.kernel.map { try KernelImage(path: $0, vmlinux: options.vmlinux) }
                ?? KernelImage.defaultKernel(cache: cache)
        }
        observer.note("kernel \(kernel.release ?? "?") (\(kernel.path))")

        // The KVM probe boots a guest for seconds; let it overlap compiling.
        let kvm = Mutex<KVMState?>(nil)
        let probeDone = DispatchSemaphore(value: 0)
        if options.accelerator == .auto {
            let probe = KVMProbe(qemu: toolchain.qemu, cache: cache)
            let path = kernel.path
            DispatchQueue.global().async {
                let state = probe.state(kernel: path)
                kvm.withLock { $0 = state }
                probeDone.signal()
            }
        } else {
            probeDone.signal()
        }

        let header = try VmlinuxHeader.make(
            for: kernel, toolchain: toolchain, cache: cache, digests: digests)
        let compiler = ProgramCompiler(
            progsDirectory: options.progsDirectory ?? Self.defaultProgsDirectory,
            toolchain: toolchain, header: header, cache: cache)
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
        if !needed.isEmpty {
            let cached = products.values.filter {
                if case .object(_, true) = $0 { true } else { false }
            }.count
            observer.note(
                "programs: \(objects.count - cached) compiled, \(cached) cached, "
                    + "\(buildErrors.count) failed")
        }
        clock.end("compile")

        let image = try GuestImage.make(
            agent: options.agent ?? Self.defaultAgent, objects: objects, toolchain: toolchain,
            cache: cache, digests: digests)
        clock.end("image")

        probeDone.wait()
        let choice = try AcceleratorChoice.decide(
            options.accelerator, kvm: kvm.withLock { $0 } ?? .unprobed)
        if let note = choice.note { observer.note(note) }
        clock.end("probe")

        var records: [TestRecord] = []
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

        let runDirectory = try RunDirectories.create(in: cache)
        var report = RunReport(
            kernel: kernel.path, kernelRelease: kernel.release,
            accelerator: choice.accelerator.rawValue,
            startedAt: ISO8601DateFormatter().string(from: clock.started),
            artifactsDirectory: runDirectory.path)
        if !toRun.isEmpty {
            let session = GuestSession(
                toolchain: toolchain, kernel: kernel, image: image, accelerator: choice.accelerator,
                runDirectory: runDirectory, bootTimeout: options.bootTimeout,
                grace: options.watchdogGrace,
                runDeadline: clock.started.addingTimeInterval(options.runTimeout),
                memoryMiB: options.memoryMiB, cpus: options.cpus, tcgThreading: options.tcgThreading
            )
            let outcome = try session.run(toRun, note: observer.note) { observer.finished($0) }
            records += outcome.records
            report.unattributedSplats = outcome.unattributedSplats
            report.kernelRelease = outcome.kernelRelease ?? report.kernelRelease
            report.phases = outcome.phases
        }
        let order = Dictionary(
            tests.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        report.records = records.sorted { (order[$0.name] ?? 0) < (order[$1.name] ?? 0) }
        for (phase, seconds) in clock.phases { report.phases[phase] = seconds }
        return report
    }
}

/// Wall time per phase of a run.
final class PhaseClock: @unchecked Sendable {
    // @unchecked: used from the pipeline's own thread only.
    let started = Date()
    private var last = Date()
    private(set) var phases: [String: Double] = [:]

    func end(_ phase: String) {
        let now = Date()
        phases[phase, default: 0] += now.timeIntervalSince(last)
        last = now
    }
}

/// Per-run artifact directories under the cache, the newest few kept.
enum RunDirectories {
    static let keep = 20

    static func create(in cache: Cache) throws -> URL {
        let stamp = ISO8601DateFormatter().string(from: Date())
            .replacingOccurrences(of: ":", with: "")
        let dir = try cache.directory("runs", "\(stamp)-\(getpid())")
        let all =
            (try? FileManager.default.contentsOfDirectory(atPath: cache.entry("runs").path)) ?? []
        for old in all.sorted().dropLast(keep) {
            try? FileManager.default.removeItem(at: cache.entry("runs", old))
        }
        return dir
    }
}

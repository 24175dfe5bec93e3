import ArgumentParser
import Foundation
import SelftestKit

extension AcceleratorChoice.Request: ExpressibleByArgument {}
extension TCGThreading: ExpressibleByArgument {}

/// Which kernel a command boots: a prebuilt image, or a tree it builds.
/// Shared by `run` and `memory`.
struct KernelOptions: ParsableArguments {
    @Option(
        name: .long, help: "A bzImage to test (default: the kernel scripts/setup.sh installed).")
    var kernel: String?

    @Option(
        name: .long,
        help: "The vmlinux matching --kernel, for its BTF (default: extracted from the image).")
    var vmlinux: String?

    @Option(
        name: .long,
        help: "A kernel source tree to build (incrementally, under the cache) and test.")
    var tree: String?

    @Option(
        name: .customLong("config"),
        help: .configFragment("With --tree: a config fragment on top of bpf-minimal (repeatable)."))
    var configs: [String] = []

    func validate() throws {
        if tree != nil && (kernel != nil || vmlinux != nil) {
            throw ValidationError(
                "--tree builds the kernel; it cannot go with --kernel or --vmlinux")
        }
        if tree == nil && !configs.isEmpty {
            throw ValidationError("--config applies to a kernel built with --tree")
        }
    }

    func apply(to options: inout RunOptions) {
        options.kernel = kernel
        options.vmlinux = vmlinux
        options.tree = tree
        options.configs = configs
    }
}

/// Which tests, and the files they come from. Shared by `run`, `series`
/// and `bisect`.
struct TestOptions: ParsableArguments {
    @Option(name: .long, help: "Tests to run: globs joined by commas, e.g. 'storage/sk/*'.")
    var filter: String?

    @Option(name: .long, help: "Directory of the BPF programs (default: the package's progs/).")
    var progs: String?

    @Option(name: .long, help: "The guest agent binary (default: next to this executable).")
    var agent: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Whole seconds any one test may take (default: each test's own bound).",
            valueName: "seconds"),
        transform: { try WholeSeconds.parse($0, option: "--test-timeout") })
    var testTimeout: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also run these tests of the tree's own test_progs, built from the same tree.",
            discussion:
                "test_progs' selection syntax: 'test', 'test/subtest', globs, comma-separated. "
                + "Without --tree: the default source tree (Debian's 6.12)."))
    var testProgs: String?

    @Option(
        name: .long,
        help: "A deny list for --test-progs, in test_progs' @file format (a glob per line).")
    var testProgsDeny: String?

    func validate() throws {
        if testProgsDeny != nil && testProgs == nil {
            throw ValidationError("--test-progs-deny applies to the tests --test-progs selects")
        }
    }

    func apply(to options: inout RunOptions) {
        options.filter = filter
        options.progsDirectory = progs.map { URL(fileURLWithPath: $0) }
        options.agent = agent
        options.testTimeout = testTimeout
        options.testProgs = testProgs
        options.testProgsDeny = testProgsDeny
    }
}

/// The source tree a series or bisect works on, and its config.
struct TreeOptions: ParsableArguments {
    @Option(name: .long, help: "The kernel source tree: a git checkout (never modified).")
    var tree: String

    @Option(
        name: .customLong("config"),
        help: .configFragment("A config fragment on top of bpf-minimal (repeatable)."))
    var configs: [String] = []

    @Option(
        name: .long,
        help: "Re-runs, on the same kernel, of a test that newly fails, before it is a regression.")
    var retries = 2

    func validate() throws {
        if retries < 0 { throw ValidationError("--retries must be 0 or more") }
    }

    func apply(to options: inout RunOptions) {
        options.tree = tree
        options.configs = configs
    }
}

/// How the guest runs and where the cache is. Shared by `run` and `memory`.
struct MachineOptions: ParsableArguments {
    @Option(name: .long, help: "auto: KVM only if it really runs the guest, else TCG; or kvm, tcg.")
    var accel: AcceleratorChoice.Request = .auto

    @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
    var cacheDir: String?

    @Option(name: .long, help: "Guest memory in MiB (default: 1024; 2048 for memory --large).")
    var memory: Int?

    @Option(name: .long, help: "Guest CPUs.")
    var cpus: Int = 2

    @Option(name: .long, help: "TCG vCPU threads: single (no cross-vCPU races) or multi.")
    var tcgThreads: TCGThreading = .single

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Guests booted at once, the tests split between them (default, or 0: as many "
                + "as the host's cores keep busy and its memory holds).",
            discussion: "Each guest gets --cpus and --memory, its own console and results; "
                + "never more guests than tests. --jobs 1: one guest runs every test."))
    var jobs: Int?

    @Option(name: .long, help: "Seconds the kernel may take to start the agent.")
    var bootTimeout: Double = 60

    @Option(name: .long, help: "Seconds the whole run may take.")
    var runTimeout: Double = 1800

    @Flag(name: .long, help: "Never color the output.")
    var noColor = false

    func validate() throws {
        if bootTimeout <= 0 || runTimeout <= 0 {
            throw ValidationError("timeouts must be positive")
        }
        if let memory, memory < 256 {
            throw ValidationError("--memory must be at least 256 (MiB)")
        }
        if cpus < 1 { throw ValidationError("--cpus must be at least 1") }
        if let jobs, jobs < 0 { throw ValidationError("--jobs must be 0 (auto) or more") }
    }

    var color: Bool { Self.color(noColor: noColor) }

    /// Colored output: on a terminal, unless --no-color or NO_COLOR says not.
    static func color(noColor: Bool) -> Bool {
        !noColor && isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    func apply(to options: inout RunOptions, defaultMemory: Int = 1024) {
        options.accelerator = accel
        options.cacheDirectory = cacheDir.map { URL(fileURLWithPath: $0) }
        options.memoryMiB = memory ?? defaultMemory
        options.cpus = cpus
        options.tcgThreading = tcgThreads
        options.jobs = jobs
        options.bootTimeout = bootTimeout
        options.runTimeout = runTimeout
    }
}

extension ArgumentHelp {
    /// `--config`, wherever a command builds a tree: what a fragment can be.
    static func configFragment(_ abstract: String) -> ArgumentHelp {
        ArgumentHelp(
            abstract,
            discussion: "A name in vm/config (debug, kasan, vng), 'selftests' for the tree's own "
                + "tools/testing/selftests/bpf/config, or a fragment file.")
    }
}

extension RunPipeline {
    /// The pipeline as the commands run it: notes and live lines on the
    /// terminal, a tree's build progress on stderr.
    static func forTerminal(_ options: RunOptions, color: Bool) -> RunPipeline {
        var pipeline = RunPipeline(options: options, observer: TerminalObserver(color: color))
        pipeline.buildObserver = TerminalBuildObserver(interactive: isatty(2) == 1)
        return pipeline
    }
}

/// The results history: on by default for `run`, `series` and `bisect`.
struct HistoryOptions: ParsableArguments {
    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Do not record this run in the results history, nor read it.",
            discussion: "The history (history.sqlite in the cache) says which failures are "
                + "new; see `selftests history` and `selftests flakes`."))
    var noHistory = false

    func apply(to options: inout RunOptions) {
        options.history = !noHistory
    }
}

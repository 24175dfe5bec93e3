import Foundation

/// The tree's own `test_progs`, built: where it is and which tests it has.
public struct TestProgsProduct: Sendable, Equatable {
    /// The `OUTPUT=` directory: `test_progs`, the `*.bpf.o` files, the helpers.
    public var output: URL
    /// The scratch copy it was built from (`tools/testing/selftests/bpf`).
    public var selftests: URL
    /// Every test the binary has (its `tests.h`), in order.
    public var tests: [String]
    /// Tests left out because their `prog_tests` file (or a program it
    /// needs) does not compile: each is a `build-error` when selected.
    public var broken: [String: BuildError]
    /// The tree's test_progs has a watchdog (`-w`, newer than 6.12).
    public var hasWatchdog: Bool
    public var seconds: Double
    public var steps: Int
    public var log: String
}

public enum TestProgsBuildResult: Sendable {
    case built(TestProgsProduct)
    /// The build failed where no single test can be left out (test_progs.c,
    /// libbpf, bpftool), or ran out of time.
    case failed(BuildError, log: String)
}

/// Builds `tools/testing/selftests/bpf/test_progs` from a kernel tree with
/// the tree's own Makefile, in a scratch copy under the cache: that build
/// writes into the source directory (`prog_tests/tests.h`, the test module's
/// objects) even with `OUTPUT=`, and the user's tree must stay as it was.
/// Scratch copy and output are kept per tree, so after a patch `rsync` and
/// `make` redo only what changed.
///
/// A `prog_tests` file that does not compile, or that needs a BPF program
/// that does not, is taken out of the scratch copy and the build goes on
/// without it (its tests become `build-error`s): real trees have such
/// breakage (Debian's 6.12 has a backported test whose program was not).
public struct TestProgsBuilder: Sendable {
    public var tree: URL
    /// The vmlinux (ELF) or raw BTF the programs compile against.
    public var btf: String
    public var cache: Cache
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var timeout: Double = 3600
    var runner: CommandRunning = SystemRunner()
    /// Rounds of leaving broken files out before giving up.
    static let maxRounds = 4

    public init(tree: URL, btf: String, cache: Cache) {
        self.tree = tree
        self.btf = btf
        self.cache = cache
    }

    /// The parts of a kernel tree the selftests build reads: its own
    /// directory and tools/ (libbpf, bpftool, resolve_btfids), headers,
    /// `kernel/bpf/disasm.c`, and `scripts/` (bpf_doc.py, sign-file.c).
    static let copiedPaths = [
        "tools", "scripts", "kernel/bpf", "include", "arch/x86/include", "Makefile",
    ]
    static let selftestsPath = "tools/testing/selftests/bpf"

    /// `<cache>/test-progs/<tree>-<hash of its path>`.
    public static func directory(for tree: URL, cache: Cache) -> URL {
        let path = tree.standardizedFileURL.resolvingSymlinksInPath().path
        var hasher = SHA256()
        hasher.update("selftests-test-progs-1\n\(path)\n")
        let label = URL(fileURLWithPath: path).lastPathComponent.map {
            $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_"
        }
        return cache.entry("test-progs", String(label) + "-" + hasher.finalize().prefix(12))
    }

    public func build(observer: KernelBuildObserver) throws -> TestProgsBuildResult {
        let tools = try TestProgsTools.discover()
        guard
            FileManager.default.fileExists(
                atPath: tree.appendingPathComponent(Self.selftestsPath).path)
        else {
            throw SelftestError(
                .usage, .runner, "\(tree.path) has no \(Self.selftestsPath)",
                fix: "pass a kernel source tree that has the BPF selftests")
        }
        let root = Self.directory(for: tree, cache: cache)
        return try DirectoryLock.hold(
            root, timeout: timeout,
            waiting: { observer.note("waiting for another test_progs build in \(root.path)") }
        ) {
            try build(in: root, tools: tools, observer: observer)
        }
    }

    func build(in root: URL, tools: TestProgsTools, observer: KernelBuildObserver) throws
        -> TestProgsBuildResult
    {
        let source = root.appendingPathComponent("src")
        let output = root.appendingPathComponent("out")
        let log = root.appendingPathComponent("build.log")
        let selftests = source.appendingPathComponent(Self.selftestsPath)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let clean = !FileManager.default.fileExists(
            atPath: output.appendingPathComponent("test_progs").path)
        let started = Date()
        try copyTree(to: source, tools: tools)
        let stagedBTF = try stageBTF(in: root)
        // The copy brought back what an earlier build left out: a file that
        // is still the same goes again, with the same error, without a
        // failing round; a changed one gets its chance.
        var memory = LeftOutMemory.load(root)
        var leftOut = memory.reapply(in: selftests)
        var broken = leftOut.reduce(into: [String: BuildError]()) { tests, file in
            for test in file.tests { tests[test] = file.error }
        }
        refreshTestsHeader(selftests, memory: &memory)

        var steps = 0
        observer.note(
            "building test_progs \(clean ? "from scratch" : "incrementally") in \(output.path)")
        for round in 1...Self.maxRounds {
            let make = MakeProcess(
                command: try makeCommand(
                    selftests: selftests, output: output, btf: stagedBTF, tools: tools),
                log: log, timeout: timeout - Date().timeIntervalSince(started))
            let estimate = clean && round == 1 ? Self.cleanSteps(root) : nil
            let outcome = try make.run(
                estimate: estimate,
                parser: BuildOutput(stripping: [source.path, output.path]), observer: observer)
            steps += outcome.output.steps
            if outcome.timedOut {
                return .failed(
                    BuildError(
                        file: nil, line: nil,
                        message: "make test_progs did not finish within \(Int(timeout)) s"),
                    log: log.path)
            }
            if outcome.status == 0 {
                if clean { Self.recordCleanSteps(root, steps) }
                memory.files = leftOut
                memory.save(root)
                let header = try String(
                    contentsOf: selftests.appendingPathComponent("prog_tests/tests.h"),
                    encoding: .utf8)
                let seconds = Date().timeIntervalSince(started)
                let product = TestProgsProduct(
                    output: output, selftests: selftests,
                    tests: TestProgsBreakage.builtTests(header: header), broken: broken,
                    hasWatchdog: Self.hasWatchdog(selftests), seconds: seconds, steps: steps,
                    log: log.path)
                let left = broken.isEmpty ? "" : ", \(broken.count) test(s) left out (build-error)"
                observer.note(
                    "test_progs: \(product.tests.count) tests, built \(steps) steps in "
                        + "\(BuildStatus.duration(seconds))\(left)")
                return .built(product)
            }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            let breakage = TestProgsBreakage.analyze(
                log: text, stripping: [source.path + "/", output.path + "/", selftests.path + "/"])
            if let other = breakage.other ?? (breakage.isEmpty ? outcome.output.failure : nil) {
                observer.note("test_progs build failed: \(other)")
                return .failed(other, log: log.path)
            }
            let removed = try leaveOut(breakage, in: selftests)
            for file in removed {
                for test in file.tests where broken[test] == nil { broken[test] = file.error }
            }
            leftOut += removed
            refreshTestsHeader(selftests, memory: &memory)
            observer.note(
                "test_progs: round \(round) left out "
                    + (breakage.testFiles.keys.sorted()
                    + breakage.programs.keys.map { "progs/\($0)" }
                    .sorted()).joined(separator: ", ")
                    + " (they do not build); building the rest")
        }
        return .failed(
            BuildError(
                file: nil, line: nil,
                message:
                    "make test_progs still failed after leaving broken tests out \(Self.maxRounds) times"
            ),
            log: log.path)
    }

    /// Removes what `breakage` names from the scratch copy, with every test
    /// file that includes a broken program's skeleton; returns them, with
    /// the tests that went with them.
    func leaveOut(_ breakage: TestProgsBreakage, in selftests: URL) throws -> [LeftOutFile] {
        let testsDirectory = selftests.appendingPathComponent("prog_tests")
        let files = try FileManager.default.contentsOfDirectory(atPath: testsDirectory.path)
            .filter { $0.hasSuffix(".c") }
        var sources: [String: String] = [:]
        for file in files {
            sources[file] =
                (try? String(
                    contentsOf: testsDirectory.appendingPathComponent(file), encoding: .utf8))
                ?? ""
        }
        var leaving = breakage.testFiles
        leaving.merge(breakage.dependents(in: sources)) { first, _ in first }
        var removed: [LeftOutFile] = []
        for (file, error) in leaving.sorted(by: { $0.key < $1.key }) {
            let text = sources[file] ?? ""
            removed.append(
                LeftOutFile(
                    path: "prog_tests/\(file)", digest: SHA256.hex(bytes: Data(text.utf8)),
                    tests: TestProgsBreakage.testNames(in: text), error: error))
        }
        for (program, error) in breakage.programs.sorted(by: { $0.key < $1.key }) {
            let url = selftests.appendingPathComponent("progs").appendingPathComponent(program)
            let data = FileManager.default.contents(atPath: url.path) ?? Data()
            removed.append(
                LeftOutFile(
                    path: "progs/\(program)", digest: SHA256.hex(bytes: data), tests: [],
                    error: error))
        }
        for file in removed {
            try? FileManager.default.removeItem(at: selftests.appendingPathComponent(file.path))
        }
        return removed
    }

    /// make rebuilds `prog_tests/tests.h` when a test file is newer than it,
    /// not when one is gone: it is removed (to be made again) when the set
    /// of test files differs from the last build's. Left alone otherwise,
    /// since everything that includes it would be rebuilt.
    func refreshTestsHeader(_ selftests: URL, memory: inout LeftOutMemory) {
        let directory = selftests.appendingPathComponent("prog_tests")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".c") }.sorted()
        if files != memory.testFiles {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("tests.h"))
            memory.testFiles = files
        }
    }

    /// `rsync -a --delete` of the paths the build reads: unchanged files
    /// keep their times, so make rebuilds only what a patch touched. What
    /// make generates in the copy is protected from the delete.
    func copyTree(to source: URL, tools: TestProgsTools) throws {
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let base = tree.standardizedFileURL.path
        let paths = Self.copiedPaths.filter {
            FileManager.default.fileExists(atPath: tree.appendingPathComponent($0).path)
        }.map { "\(base)/./\($0)" }
        let result = try runner.run(
            Command(
                tools.rsync,
                ["-a", "--delete", "--relative", "--exclude=.git", "--filter=protect tests.h"]
                    + paths + [source.path + "/"]), timeout: 600)
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure, .runner,
                "copying \(tree.path) for the test_progs build failed: \(result.stderrText)")
        }
    }

    /// `VMLINUX_BTF` for make: the raw `.BTF` section, kept in `root` and
    /// replaced only when its bytes change. make compares times, not
    /// contents: a vmlinux of another build, older than the last `vmlinux.h`,
    /// would leave the programs compiled against the old types, and a new
    /// one with the same types would redo all 800 of them.
    func stageBTF(in root: URL) throws -> URL {
        let staged = root.appendingPathComponent("vmlinux.btf")
        let head = FileHandle(forReadingAtPath: btf).flatMap { try? $0.read(upToCount: 4) }
        let fresh = root.appendingPathComponent("vmlinux.btf.new")
        defer { try? FileManager.default.removeItem(at: fresh) }
        if head == Data([0x7f, 0x45, 0x4c, 0x46]) {
            try Self.extractBTF(fromELF: btf, to: fresh, runner: runner)
        } else {
            try? FileManager.default.removeItem(at: fresh)
            try FileManager.default.copyItem(atPath: btf, toPath: fresh.path)
        }
        if FileManager.default.contentsEqual(atPath: fresh.path, andPath: staged.path) {
            return staged
        }
        try? FileManager.default.removeItem(at: staged)
        try FileManager.default.moveItem(at: fresh, to: staged)
        return staged
    }

    /// Writes the `.BTF` section of the ELF file `elf` (a vmlinux) to `output`.
    static func extractBTF(fromELF elf: String, to output: URL, runner: CommandRunning) throws {
        let result = try runner.run(
            Command("objcopy", ["-O", "binary", "--only-section=.BTF", elf, output.path]),
            timeout: 120)
        let size = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size]) as? Int
        guard result.succeeded, (size ?? 0) > 0 else {
            throw SelftestError(
                .usage, .runner, "\(elf) has no BTF for the test_progs build",
                fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
        }
    }

    func makeCommand(selftests: URL, output: URL, btf: URL, tools: TestProgsTools) throws
        -> Command
    {
        let fix = try Self.writeDependencyFix(in: output.deletingLastPathComponent())
        var extras = [
            "urandom_read", "liburandom_read.so", "uprobe_multi", "xdp_synproxy", "sign-file",
        ]
        .map { output.appendingPathComponent($0).path }
        extras += ["ima_setup.sh", "verify_sig_setup.sh"]
        let progs = selftests.appendingPathComponent("progs")
        extras += ((try? FileManager.default.contentsOfDirectory(atPath: progs.path)) ?? [])
            .filter { $0.hasPrefix("btf_dump_test_case_") && $0.hasSuffix(".c") }.sorted()
            .map { "progs/\($0)" }
        return Command(
            tools.make,
            [
                "-C", selftests.path, "-f", "Makefile", "-f", fix.path, "-j", "\(max(1, jobs))",
                "-k",
                "LLVM=\(tools.llvmSuffix)", "VMLINUX_BTF=\(btf.path)", "OUTPUT=\(output.path)",
                // The LLVM disassembler (for JIT listings in `__jited`
                // verifier tests) links 45 MB of static LLVM, ICU and z3
                // into test_progs, which every boot that runs it would carry.
                "feature-llvm=0",
                // Without the test modules: they need a configured kernel
                // build with modules (KDIR), which bpf-minimal is not; the
                // tests that need bpf_testmod.ko skip, saying so.
                "TRUNNER_EXTRA_FILES=\(extras.joined(separator: " "))",
                "test_progs",
            ])
    }

    /// 6.12's Makefile compiles each test in `OUTPUT` with `-I.`, so the
    /// dependency files name skeletons relative to it (`atomics.lskel.h`),
    /// and the next make, run from the source directory, finds no rule for
    /// them. Pointing make's search path at `OUTPUT` resolves them.
    static func writeDependencyFix(in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("dependency-fix.mk")
        let text = """
            # Written by selftests: skeletons named relative to OUTPUT in .d files.
            vpath %.skel.h $(OUTPUT)
            vpath %.lskel.h $(OUTPUT)
            vpath %.subskel.h $(OUTPUT)

            """
        if (try? String(contentsOf: url, encoding: .utf8)) != text {
            try Cache.write(Data(text.utf8), to: url)
        }
        return url
    }

    static func hasWatchdog(_ selftests: URL) -> Bool {
        let text = try? String(
            contentsOf: selftests.appendingPathComponent("test_progs.c"), encoding: .utf8)
        return text?.contains("\"watchdog-timeout\"") ?? false
    }

    /// Steps a build from scratch took: this tree's last one, else the
    /// newest any tree recorded (kept beside the trees' directories).
    static func cleanSteps(_ root: URL) -> Int? {
        for dir in [root, root.deletingLastPathComponent()] {
            let url = dir.appendingPathComponent("clean-steps")
            if let text = try? String(contentsOf: url, encoding: .utf8),
                let steps = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return steps
            }
        }
        return nil
    }

    static func recordCleanSteps(_ root: URL, _ steps: Int) {
        for dir in [root, root.deletingLastPathComponent()] {
            try? Cache.write(Data("\(steps)\n".utf8), to: dir.appendingPathComponent("clean-steps"))
        }
    }
}

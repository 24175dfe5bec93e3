import Foundation
import SelftestCatalog

/// Which of the selected test_progs tests a run on one kernel runs.
public enum TestProgsChoice: Sendable, Equatable {
    case all
    /// These `test_progs/<test>` names only (a re-run); none when empty.
    case only(Set<String>)
}

/// The tree's test_progs for one kernel: what the agent runs, what could not
/// be built, and the archive that carries it into the guest.
struct TestProgsPlan {
    var specs: [TestSpec] = []
    /// Selected tests that did not build (or the whole suite's build failure).
    var records: [TestRecord] = []
    var payload: URL?
}

extension TestBench {
    /// Seconds a test_progs entry may run when `--test-timeout` does not say.
    static let testProgsTimeout = 300

    /// Builds the tree's test_progs for `kernel` and picks the selected
    /// entries. The tree is the kernel's own when it was built from one, else
    /// the default source (Debian's 6.12, which the default kernel matches).
    /// `choice` may limit the entries to some names (a re-run).
    func prepareTestProgs(
        kernel: KernelUnderTest, choice: TestProgsChoice, pins: ImagePins? = nil
    ) throws -> TestProgsPlan {
        guard let selectionText = options.testProgs else { return TestProgsPlan() }
        if case .only(let names) = choice, names.isEmpty { return TestProgsPlan() }
        let deny = try options.testProgsDeny.map(TestProgsSelection.denyList(at:)) ?? []
        let selection = try TestProgsSelection(selectionText, deny: deny)
        let tree =
            try kernel.identity.tree.map { URL(fileURLWithPath: $0) }
            ?? KernelSource.ensure(cache: cache, runner: host.runner, note: observer.note).tree
        let (btf, why) = try testProgsBTF(for: kernel)
        observer.note("test_progs: programs compile against \(why)")
        var builder = TestProgsBuilder(tree: tree, btf: btf, cache: cache)
        builder.runner = host.runner
        builder.timeout = options.buildTimeout
        let product: TestProgsProduct
        switch try builder.build(observer: buildObserver) {
        case .failed(let error, let log):
            let record = TestRecord(
                name: TestProgsOutput.suite, outcome: .buildError,
                message: "test_progs does not build: \(error)\n(log: \(log))")
            observer.finished(record)
            return TestProgsPlan(records: [record])
        case .built(let built):
            product = built
        }

        var entries = try selection.entries(available: product.tests + product.broken.keys.sorted())
        if case .only(let names) = choice { entries = entries.filter { names.contains($0.name) } }
        var plan = TestProgsPlan()
        var runnable: [TestProgsSelection.Entry] = []
        for entry in entries {
            if let error = product.broken[entry.test] {
                let record = TestRecord(
                    name: entry.name, outcome: .buildError,
                    message: "its test does not build, so test_progs was built without it: \(error)"
                        + (error.context.isEmpty
                            ? "" : "\n" + error.context.joined(separator: "\n")))
                observer.finished(record)
                plan.records.append(record)
            } else {
                runnable.append(entry)
            }
        }
        guard !runnable.isEmpty else { return plan }
        let timeout = options.testTimeout ?? Self.testProgsTimeout
        plan.specs = runnable.map {
            TestProgsSelection.spec(
                for: $0, timeout: timeout, denyFile: deny.isEmpty ? nil : TestProgsPayload.denyPath,
                watchdog: product.hasWatchdog)
        }
        plan.payload = try TestProgsPayload.make(
            product: product, tests: runnable.map(\.test), deny: deny,
            kernelConfig: kernel.image.configFile, release: kernel.image.release,
            cache: cache, digests: digests, runner: host.runner, pins: pins, note: observer.note)
        if kernel.image.configFile == nil {
            observer.note(
                "test_progs: no config file found for \(kernel.image.path); programs with "
                    + "`extern CONFIG_*` will not load")
        }
        return plan
    }

    /// Which BTF the test_progs programs compile against, and why.
    ///
    /// The programs name types from all over the kernel (crypto, netfilter,
    /// sched_ext…); `bpf-minimal` has few of them, and a header without a
    /// type a program names does not compile. So: a prebuilt kernel's own
    /// BTF (a distribution config has them all), a tree built with the
    /// selftests fragment its own, and a `bpf-minimal` tree the default
    /// kernel's, which is the same 6.12 with Debian's full config. CO-RE
    /// relocates every access against the running kernel when a program
    /// loads, so compiling against a richer kernel's types is sound; a type
    /// the kernel under test lacks then fails that test's load, with the
    /// verifier's or libbpf's words as evidence.
    func testProgsBTF(for kernel: KernelUnderTest) throws -> (path: String, why: String) {
        let ownVmlinux = kernel.image.vmlinux
        if kernel.identity.tree == nil {
            return (try ownVmlinux ?? rawBTF(of: kernel.image), "the kernel's own BTF")
        }
        if options.configs.contains("selftests"), let ownVmlinux {
            return (ownVmlinux, "the tree's own BTF (built with the selftests fragment)")
        }
        let fallback = try KernelImage.defaultKernel(cache: cache)
        return (
            try rawBTF(of: fallback),
            "\(fallback.release ?? "the default kernel")'s BTF: bpf-minimal lacks types the "
                + "programs name (pass --config selftests to use the tree's own)"
        )
    }

    /// The raw `.BTF` of a bzImage, extracted once per image into the cache.
    func rawBTF(of image: KernelImage) throws -> String {
        let dir = cache.entry("btf", try digests.digest(of: image.path))
        let raw = dir.appendingPathComponent("vmlinux.btf")
        if Cache.exists(raw) { return raw.path }
        let scratch = try Scratch.directory(in: cache.directory("tmp"), prefix: "btf")
        defer { Scratch.remove(scratch) }
        let vmlinux = scratch.appendingPathComponent("vmlinux").path
        let runner = host.runner
        try VmlinuxExtractor.extract(from: image.path, to: vmlinux, runner: runner)
        let section = scratch.appendingPathComponent("vmlinux.btf")
        try TestProgsBuilder.extractBTF(fromELF: vmlinux, to: section, runner: runner)
        guard let data = FileManager.default.contents(atPath: section.path) else {
            throw SelftestError(.infrastructure, .runner, "cannot read \(section.path)")
        }
        try Cache.write(data, to: raw)
        return raw.path
    }
}

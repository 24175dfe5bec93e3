import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension VirtualMachineSuites {
    /// The kernel-build pipeline for real, as CI runs it: Debian's 6.12
    /// source unpacked into the cache, built with bpf-minimal, booted, one
    /// storage test run on it. On a fresh machine this is the long test
    /// (measured here: 45 s to unpack, 9 to 12 minutes to build on 2
    /// cores); with the cache kept, the build takes seconds.
    ///
    /// It builds the source as checked out in the tree's series worktree:
    /// a real git checkout of the same commit, whose build directory the
    /// series and bisect tests then reuse, so CI builds the kernel from
    /// scratch once, not once per tree path.
    @Suite(.tags(.kernelBuild, .vm)) struct KernelBuildTests {
        /// What the build and the run told their observers.
        final class Recorder: KernelBuildObserver, RunObserver, @unchecked Sendable {
            // @unchecked: every field is behind the lock (make's output is
            // polled on another thread).
            private let lock = NSLock()
            private var _notes: [String] = []
            private var _progress: [BuildStatus] = []
            private var _finished: [BuildStatus] = []

            var notes: [String] { lock.withLock { _notes } }
            var progressed: [BuildStatus] { lock.withLock { _progress } }
            var ended: [BuildStatus] { lock.withLock { _finished } }

            func note(_ text: String) { lock.withLock { _notes.append(text) } }
            func progress(_ status: BuildStatus) { lock.withLock { _progress.append(status) } }
            func finished(_ status: BuildStatus) { lock.withLock { _finished.append(status) } }
            func finished(_ record: TestRecord) {}
        }

        @Test(.timeLimit(.minutes(60)))
        func bpfMinimalFromDebiansSourceRunsAStorageTest() throws {
            let cache = Cache(root: Cache.defaultRoot())
            let (source, _) = try KernelSource.ensure(cache: cache)
            let commit = try Git(source).checked(["rev-parse", "HEAD"])
            let worktree = try Worktree.open(tree: source, at: commit, cache: cache)
            try worktree.checkout(commit)
            let tree = worktree.path
            worktree.close()

            // The build: from scratch on a fresh machine, a no-op after that.
            let build = Recorder()
            let result = try KernelBuilder(request: KernelBuildRequest(tree: tree), cache: cache)
                .build(observer: build)
            guard case .built(let product) = result else {
                Issue.record("Debian's 6.12 source did not build with bpf-minimal: \(result)")
                return
            }
            #expect(product.commit == commit)
            #expect(product.dirty == false)
            #expect(product.fragments == ["bpf-minimal"])
            #expect(product.unmetOptions.isEmpty, "\(product.unmetOptions)")
            #expect(product.release?.hasPrefix("6.12.") == true)
            #expect(product.configHash.count == 64)
            #expect(FileManager.default.fileExists(atPath: product.bzImage))
            #expect(FileManager.default.fileExists(atPath: product.vmlinux))
            // Its vmlinux goes with its own image, and not with Debian's.
            let built = try KernelImage(path: product.bzImage)
            try VmlinuxFile.check(product.vmlinux, against: built)
            #expect(throws: SelftestError.self, "another build's vmlinux was accepted") {
                try VmlinuxFile.check(
                    product.vmlinux, against: KernelImage.defaultKernel(cache: cache))
            }
            #expect(build.ended.count == 1, "the build's live line was not ended")
            if product.steps > 100 {
                // A real build (not a no-op) showed progress as it went.
                #expect(build.progressed.contains { $0.steps > 0 && $0.current != nil })
            }

            // `run --tree`: the same build directory (nothing to rebuild),
            // then the test boots on the kernel just built.
            var options = RunOptions()
            options.tree = tree.path
            options.filter = "storage/sk/omem_charge_delete"
            let run = Recorder()
            let report = try RunPipeline(options: options, observer: run).run()
            let artifacts = try #require(report.artifactsDirectory, "the VM did not run")
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")
            #expect(report.kernel == product.bzImage)
            #expect(report.kernelRelease == product.release)
            #expect(report.phases["kernel-build"] != nil)
            #expect(run.notes.contains { $0.hasPrefix("kernel 6.12.") && $0.contains(" in ") })
            let record = try #require(report.records.first)
            #expect(record.name == "storage/sk/omem_charge_delete")
            #expect(
                record.outcome == .pass,
                "\(record.name) on the built kernel: \(record.message ?? "")")
            #expect(report.exitCode == 0)
        }
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension VirtualMachineSuites {
    /// `run --tree … --test-progs` for real: the tree's own test_progs built
    /// from Debian's 6.12 source (in the series worktree, whose bpf-minimal
    /// kernel the kernel-build test already built), run in the guest on that
    /// kernel beside one of our tests; then the same with a commit whose
    /// `prog_tests/sk_storage_omem_uncharge.c` expects what the kernel does
    /// not do, which must come back `fail` with test_progs' own words.
    @Suite(.tags(.kernelBuild, .vm)) struct TestProgsRunTests {
        static let selection = "sk_storage_omem_uncharge,task_local_storage/sys_enter_exit"

        /// A commit on `base`, made with a scratch index in the repository's
        /// object store: its checkout and branches stay as they are.
        static func failingCommit(in tree: URL, base: String, cache: Cache) throws -> String {
            let git = Git(tree)
            let path = "tools/testing/selftests/bpf/prog_tests/sk_storage_omem_uncharge.c"
            let scratch = try cache.directory("tmp", "test-progs-test-\(getpid())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            var env = ScratchIdentity.environment
            env["GIT_INDEX_FILE"] = scratch.appendingPathComponent("index").path
            try git.checked(["read-tree", base], environment: env)
            let old = try git.run(["show", "\(base):\(path)"]).stdoutText
            let new = old.replacingOccurrences(
                of: "ASSERT_EQ(skel->bss->omem, 0, \"omem\");",
                with: "ASSERT_EQ(skel->bss->omem, 1, \"omem\");")
            try #require(new != old, "the edit of \(path) changed nothing")
            let blob = try git.checked(["hash-object", "-w", "--stdin"], stdin: Data(new.utf8))
            try git.checked(
                ["update-index", "--cacheinfo", "100644,\(blob),\(path)"], environment: env)
            let treeId = try git.checked(["write-tree"], environment: env)
            return try git.checked(
                [
                    "commit-tree", treeId, "-p", base, "-m",
                    "selftests/bpf: expect option memory left after close",
                ], environment: env)
        }

        func run(tree: URL) throws -> RunReport {
            var options = RunOptions()
            options.tree = tree.path
            options.filter = "storage/sk/user_update_flags"
            options.testProgs = Self.selection
            let report = try RunPipeline(options: options, observer: RunRecorder()).run()
            let artifacts = try #require(report.artifactsDirectory, "the VM did not run")
            #expect(qemuProcesses(using: artifacts).isEmpty, "a QEMU process outlived the run")
            return report
        }

        @Test(.timeLimit(.minutes(60)))
        func theTreesTestProgsRunsBesideOursAndAFailureCarriesItsLog() throws {
            let cache = Cache(root: Cache.defaultRoot())
            let (source, _) = try KernelSource.ensure(cache: cache)
            let base = try Git(source).checked(["rev-parse", "HEAD"])
            let sourceState = try SeriesTests.state(of: source)
            let failing = try Self.failingCommit(in: source, base: base, cache: cache)

            let worktree = try Worktree.open(tree: source, at: base, cache: cache)
            try worktree.checkout(base)
            let tree = worktree.path
            worktree.close()
            let report = try run(tree: tree)
            let names = report.records.map(\.name)
            #expect(
                names == [
                    "storage/sk/user_update_flags", "test_progs/sk_storage_omem_uncharge",
                    "test_progs/task_local_storage",
                ], "ours first, then test_progs' in its order")
            for record in report.records {
                #expect(record.outcome == .pass, "\(record.name): \(record.message ?? "")")
            }
            let storage = try #require(report.records.last)
            #expect(
                storage.subtests.map(\.name) == ["test_progs/task_local_storage/sys_enter_exit"],
                "only the selected subtest ran")
            #expect(report.phases["test-progs-build"] != nil)

            // The same tree one commit later: only that test file changed.
            let again = try Worktree.open(tree: source, at: failing, cache: cache)
            try again.checkout(failing)
            again.close()
            let broken = try run(tree: tree)
            let omem = try #require(
                broken.records.first { $0.name == "test_progs/sk_storage_omem_uncharge" })
            #expect(omem.outcome == .fail)
            #expect(
                omem.message?.contains("omem unexpected omem: actual 0 != expected 1") == true,
                "test_progs' own words: \(omem.message ?? "")")
            #expect(
                broken.records.first { $0.name == "test_progs/task_local_storage" }?.outcome
                    == .pass)
            #expect(broken.exitCode == 1)
            #expect(try SeriesTests.state(of: source) == sourceState, "the source tree was touched")

            // Leave the worktree at the base for the suites that follow.
            let restore = try Worktree.open(tree: source, at: base, cache: cache)
            try restore.checkout(base)
            restore.close()
        }
    }
}

import Foundation
import SelftestCatalog
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// The builder and `run --tree` end to end, on a stand-in tree whose Makefile
/// replays a real captured build (a real kernel build takes most of an hour
/// here; scripts/bench-kernel.sh does that one). The runner looks for make,
/// pahole and the VM's tools before it starts, so these need them installed.
extension NeedsTools {
    @Suite(.tags(.needsTools)) struct KernelBuildPipelineTests {
        /// A tree whose `make bzImage` prints `log` and exits 2, and whose
        /// `make tinyconfig` leaves `config` as the resolved `.config`.
        static func replayTree(config: String, log: String) throws -> FakeTree {
            let fake = try FakeTree.make(selftestsConfig: nil)
            let makefile = """
                # Stands in for a kernel Makefile: the targets the runner calls.
                tinyconfig:
                \techo run >> $(CURDIR)/configured
                \tcp $(CURDIR)/resolved.config $(O)/.config
                olddefconfig:
                \t@true
                bzImage:
                \t@echo reached > $(CURDIR)/make-reached
                \t@cat $(CURDIR)/replay.log
                \t@sleep 1
                \t@exit 2

                """
            try Data(makefile.utf8).write(to: fake.url.appendingPathComponent("Makefile"))
            try Data("exit 0\n".utf8).write(
                to: fake.url.appendingPathComponent("scripts/kconfig/merge_config.sh"))
            try Data(config.utf8).write(to: fake.url.appendingPathComponent("resolved.config"))
            // The captured log names files under the tree it was built from.
            let replay = log.replacingOccurrences(of: BrokenTree.path, with: fake.url.path)
            try Data(replay.utf8).write(to: fake.url.appendingPathComponent("replay.log"))
            return fake
        }

        /// A replay tree of captured fixtures (`log: nil`: make prints nothing)
        /// and an empty cache, both removed once `body` is done.
        static func withReplayTree(
            config: String = "bpf-minimal.config", log: String? = "build-error-6.12.log",
            _ body: (FakeTree, Cache) throws -> Void
        ) throws {
            let fake = try replayTree(
                config: try KBuildFixture.text("kbuild/" + config),
                log: try log.map { try KBuildFixture.text("kbuild/" + $0) } ?? "")
            defer { fake.remove() }
            let cache = temporaryCache()
            defer { try? FileManager.default.removeItem(at: cache.root) }
            try body(fake, cache)
        }

        static func temporaryCache() -> Cache {
            Cache(
                root: FileManager.default.temporaryDirectory
                    .appendingPathComponent("selftests-kbuild-\(getpid())-\(UUID().uuidString)"))
        }

        @Test func aCompileErrorMakesEveryTestABuildErrorNamingTheFileAndNoVMBoots() throws {
            try Self.withReplayTree { fake, cache in
                var options = RunOptions()
                options.tree = fake.url.path
                options.filter = "storage/sk/*"
                options.cacheDirectory = cache.root
                let recorder = RunRecorder()
                let report = try RunPipeline(options: options, observer: recorder).run()

                let expected = Catalog.all.filter { $0.name.hasPrefix("storage/sk/") }.map(\.name)
                #expect(report.records.map(\.name) == expected)
                #expect(!expected.isEmpty)
                let head =
                    "the kernel did not build: kernel/bpf/bpf_local_storage.c:\(BrokenTree.line): "
                    + BrokenTree.message
                for record in report.records {
                    #expect(record.outcome == .buildError, "\(record.name)")
                    #expect(record.message?.hasPrefix(head) == true, "\(record.message ?? "")")
                    #expect(
                        record.message?.contains("build log: \(cache.root.path)/kbuild/") == true)
                }
                #expect(report.exitCode == 1)
                #expect(report.accelerator == .noGuest, "no VM was started")
                #expect(report.phases["kernel-build"] != nil)
                #expect(recorder.live.count == expected.count)
                #expect(
                    recorder.notes.contains {
                        $0.hasPrefix("kernel build failed after ")
                            && $0.hasSuffix(
                                "kernel/bpf/bpf_local_storage.c:\(BrokenTree.line): \(BrokenTree.message)"
                            )
                    })
            }
        }

        @Test func aConfigWithoutBTFIsRefusedBeforeMakeRuns() throws {
            try Self.withReplayTree(config: "bpf-minimal+no-btf.config", log: nil) { fake, cache in
                let builder = KernelBuilder(
                    request: KernelBuildRequest(tree: fake.url), cache: cache)
                #expect {
                    try builder.build(observer: KBuildNoteRecorder())
                } throws: { error in
                    let e = error as? SelftestError
                    return e?.exitCode == 2
                        && e?.message.contains("lacks what the suite needs: CONFIG_DEBUG_INFO_BTF")
                            == true
                }
                #expect(!FileManager.default.fileExists(atPath: fake.url.path + "/make-reached"))
            }
        }

        @Test func theConfigIsMadeOnceAndTheBuildDirectoryKept() throws {
            try Self.withReplayTree { fake, cache in
                let builder = KernelBuilder(
                    request: KernelBuildRequest(tree: fake.url), cache: cache)
                let notes = KBuildNoteRecorder()
                for _ in 0..<2 {
                    guard case .failed(let failure) = try builder.build(observer: notes) else {
                        Issue.record("the replayed build must fail")
                        return
                    }
                    #expect(failure.error.file == "kernel/bpf/bpf_local_storage.c")
                    #expect(FileManager.default.fileExists(atPath: failure.log))
                }
                let configured = try String(
                    contentsOf: fake.url.appendingPathComponent("configured"), encoding: .utf8)
                #expect(
                    configured == "run\n", "tinyconfig ran once; the second build reused .config")
                #expect(
                    notes.lines.withLock { $0 }.filter { $0.hasPrefix("configuring") }.count == 1)
                #expect(notes.progress.withLock { $0 } > 0, "progress was reported while make ran")
            }
        }

        @Test func anEditedFragmentReconfiguresTheSameDirectory() throws {
            try Self.withReplayTree { fake, cache in
                let fragments = cache.root.appendingPathComponent("fragments")
                try FileManager.default.createDirectory(
                    at: fragments, withIntermediateDirectories: true)
                let minimal = fragments.appendingPathComponent("bpf-minimal.config")
                let shipped = ConfigFragment.defaultDirectory.appendingPathComponent(
                    "bpf-minimal.config")
                try FileManager.default.copyItem(at: shipped, to: minimal)
                var request = KernelBuildRequest(tree: fake.url)
                request.configDirectory = fragments
                let builder = KernelBuilder(request: request, cache: cache)
                let notes = KBuildNoteRecorder()
                _ = try builder.build(observer: notes)
                let handle = try FileHandle(forWritingTo: minimal)
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("CONFIG_NET_CLS_BPF=y\n".utf8))
                try handle.close()
                _ = try builder.build(observer: notes)
                let configured = try String(
                    contentsOf: fake.url.appendingPathComponent("configured"), encoding: .utf8)
                #expect(configured == "run\nrun\n", "the changed fragment made a new .config")
                let directories = try FileManager.default.contentsOfDirectory(
                    atPath: cache.root.appendingPathComponent("kbuild").path
                ).filter { $0.hasPrefix(fake.url.lastPathComponent) }
                #expect(directories.count == 1, "one build directory, reconfigured: \(directories)")
                #expect(
                    notes.lines.withLock { $0 }.contains {
                        $0.contains(
                            "requested option(s) did not take: CONFIG_NET_CLS_BPF=y (got not set)")
                    }, "the replayed .config lacks the new option, and the check names it")
            }
        }
    }
}

/// Records what a build reports.
final class KBuildNoteRecorder: KernelBuildObserver {
    let lines = Mutex<[String]>([])
    let progress = Mutex(0)

    func note(_ text: String) { lines.withLock { $0.append(text) } }
    func progress(_ status: BuildStatus) { progress.withLock { $0 += 1 } }
    func finished(_ status: BuildStatus) {}
}

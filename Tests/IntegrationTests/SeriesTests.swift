import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

extension VirtualMachineSuites {
    /// `selftests series` and `selftests bisect` for real: a series of our
    /// own on Debian's 6.12 source, built in the tree's worktree (the same
    /// bpf-minimal build the kernel-build test makes, so each step is
    /// incremental), booted under TCG, one patch really breaking what
    /// `storage/sk/omem_charge_delete` checks.
    @Suite(.tags(.kernelBuild, .vm)) struct SeriesTests {
        static let filter = "storage/sk/omem_charge_delete,storage/sk/user_update_flags"
        static let broken = "storage/sk/omem_charge_delete"

        /// The base and four commits made in the source repository's object
        /// store with a scratch index: its checkout and branches stay as
        /// they are. 1: documentation (same kernel); 2: socket storage no
        /// longer uncharges small elements (the break); 3: selftests only
        /// (same kernel as 2); 4: a message text (a new kernel, still broken).
        struct Series {
            var tree: URL
            var commits: [String]
            var mbox: URL
        }

        static func makeSeries() throws -> Series {
            let cache = Cache(root: Cache.defaultRoot())
            let (tree, _) = try KernelSource.ensure(cache: cache)
            let git = Git(tree)
            let base = try git.checked(["rev-parse", "HEAD"])
            let scratch = try cache.directory("tmp", "series-test-\(getpid())")
            let index = scratch.appendingPathComponent("index").path
            var env = ScratchIdentity.environment
            env["GIT_INDEX_FILE"] = index
            try git.checked(["read-tree", base], environment: env)
            var commits = [base]
            let edits: [(String, String, (String) -> String)] = [
                (
                    "Documentation/bpf: say what a hash map's size promises",
                    "Documentation/bpf/map_hash.rst",
                    { $0 + "\nThe element count bounds entries, not memory.\n" }
                ),
                (
                    "bpf: skip the uncharge of small socket storage",
                    "net/core/bpf_sk_storage.c",
                    {
                        $0.replacingOccurrences(
                            of: "\tatomic_sub(size, &sk->sk_omem_alloc);\n}",
                            with:
                                "\tif (size > PAGE_SIZE)\n\t\tatomic_sub(size, &sk->sk_omem_alloc);\n}"
                        )
                    }
                ),
                (
                    "selftests/bpf: mention the storage tests",
                    "tools/testing/selftests/bpf/README.rst",
                    { $0 + "\nThe local storage tests live in prog_tests/.\n" }
                ),
                (
                    "bpf: say that the interpreter refuses an unknown opcode",
                    "kernel/bpf/core.c",
                    {
                        $0.replacingOccurrences(
                            of: "unknown opcode %02x (imm: 0x%x)\\n",
                            with: "unknown opcode %02x (imm: 0x%x), refused\\n")
                    }
                ),
            ]
            for (message, path, edit) in edits {
                let old = try git.run(["show", "\(commits.last!):\(path)"]).stdoutText
                let new = edit(old)
                try #require(new != old, "the edit of \(path) changed nothing")
                let blob = try git.checked(
                    ["hash-object", "-w", "--stdin"], stdin: Data(new.utf8))
                try git.checked(
                    ["update-index", "--cacheinfo", "100644,\(blob),\(path)"], environment: env)
                let treeId = try git.checked(["write-tree"], environment: env)
                commits.append(
                    try git.checked(
                        ["commit-tree", treeId, "-p", commits.last!, "-m", message],
                        environment: env))
            }
            // The mbox as a list archive serves it: a cover letter, CRLF.
            let out = scratch.appendingPathComponent("patches")
            try? FileManager.default.removeItem(at: out)
            try git.checked(
                [
                    "format-patch", "-q", "--cover-letter", "--base=\(base)",
                    "--subject-prefix=PATCH bpf-next v2", "-o", out.path, "\(base)..\(commits[4])",
                ], environment: env)
            var text = ""
            for name in try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() {
                text += try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
            }
            text = text.replacingOccurrences(
                of: "*** SUBJECT HERE ***", with: "bpf: socket storage charge tweaks")
            let mbox = scratch.appendingPathComponent("series.mbox")
            try Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: mbox)
            return Series(tree: tree, commits: commits, mbox: mbox)
        }

        func selftests(_ arguments: [String]) throws -> CommandResult {
            try SystemRunner().run(
                Command(CommandLineTests.binary, arguments), timeout: 3 * 3600)
        }

        /// What the user's tree looked like: it must look the same after.
        static func state(of tree: URL) throws -> [String] {
            let git = Git(tree)
            return [
                try git.checked(["rev-parse", "HEAD"]),
                try git.checked(["status", "--porcelain"]),
                try git.checked(["for-each-ref", "--format=%(refname) %(objectname)"]),
            ]
        }

        /// The series, the user's tree as it was, and a scratch directory.
        static func prepare() throws -> (Series, [String], URL) {
            let series = try makeSeries()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "series-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return (series, try state(of: series.tree), dir)
        }

        @Test(.timeLimit(.minutes(90)))
        func theSeriesNamesTheBreakingPatchAndBisectPinsTheSameCommit() throws {
            let (series, before, dir) = try Self.prepare()
            defer { try? FileManager.default.removeItem(at: dir) }
            let json = dir.appendingPathComponent("series.json")
            let markdown = dir.appendingPathComponent("series.txt")
            let b4 = dir.appendingPathComponent("b4.json")

            // --fresh: this test is about building, booting and re-running
            // each step; a second `swift test` on the same machine would
            // otherwise take every step from the first one's history.
            let result = try selftests([
                "series", "--tree", series.tree.path, "--mbox", series.mbox.path,
                "--filter", Self.filter, "--json", json.path, "--markdown", markdown.path,
                "--b4-check", b4.path, "--fresh",
            ])
            #expect(result.status == 1, "\(result.stdoutText)\n\(result.stderrText)")
            let report = try SeriesReport.decode(Data(contentsOf: json))
            #expect(report.steps.map(\.position) == [0, 1, 2, 3, 4])
            #expect(report.steps.filter { !$0.build.built }.isEmpty)
            #expect(report.title == "[PATCH bpf-next v2 0/4] bpf: socket storage charge tweaks")
            #expect(report.baseNote == "the mbox's base-commit: trailer")
            #expect(report.steps[0].commit == series.commits[0])
            #expect(report.regressions.map(\.test) == [Self.broken])
            let regression = try #require(report.regressions.first)
            #expect(regression.firstBad.position == 2)
            #expect(regression.firstBad.subject == "bpf: skip the uncharge of small socket storage")
            #expect(!regression.evidence.isEmpty)
            // git am made the same trees as the commits bisect goes through.
            let git = Git(series.tree)
            for (step, commit) in zip(report.steps, series.commits) {
                #expect(
                    try git.checked(["rev-parse", "\(step.commit)^{tree}"])
                        == git.checked(["rev-parse", "\(commit)^{tree}"]))
            }
            // Documentation and selftests patches leave the kernel alone.
            #expect(report.steps[1].carriedFrom == 0)
            #expect(report.steps[3].carriedFrom == 2)
            #expect(report.steps[4].carriedFrom == nil)
            #expect(report.steps[4].verdicts.first { $0.test == Self.broken }?.outcome == .fail)
            // The break was re-run before it was called one; the rest passed.
            #expect(report.steps[2].retryRuns.count == 2)
            #expect(report.flakes.isEmpty)
            for step in report.steps {
                let failing = step.verdicts.filter { $0.outcome != .pass }.map(\.test)
                #expect(
                    failing == (step.position < 2 ? [] : [Self.broken]), "step \(step.position)")
            }
            // Incremental: after the base, each build is seconds to a minute.
            for step in report.steps.dropFirst() {
                #expect(step.build.steps ?? 0 < 200, "step \(step.position) rebuilt too much")
            }
            let text = try String(contentsOf: markdown, encoding: .utf8)
            #expect(text.contains("first bad patch 2/4"))
            let check = try B4Check.decode(Data(contentsOf: b4))
            #expect(
                check.patches.map { $0.results.first?.status } == ["pass", "fail", "pass", "pass"])
            #expect(check.patches[1].patchId != nil)
            #expect(result.stdoutText.contains("[2/4] re-run 1 of 2: \(Self.broken)"))
            #expect(qemuProcesses(using: report.artifactsDirectory).isEmpty)
            #expect(try Self.state(of: series.tree) == before, "the user's tree was touched")

            // bisect over the same commits pins the same one, within the bound.
            let bisectJSON = dir.appendingPathComponent("bisect.json")
            let bisect = try selftests([
                "bisect", "--tree", series.tree.path, "--good", series.commits[0],
                "--bad", series.commits[4], "--filter", Self.broken, "--json", bisectJSON.path,
            ])
            #expect(bisect.status == 0, "\(bisect.stdoutText)\n\(bisect.stderrText)")
            let found = try BisectReport.decode(Data(contentsOf: bisectJSON))
            #expect(found.culprit?.commit == series.commits[2])
            #expect(found.commits == 4)
            #expect(found.builds <= found.bound, "\(found.builds) builds, bound \(found.bound)")
            #expect(found.culprit?.evidence.first?.test == Self.broken)
            #expect(bisect.stdoutText.contains("First bad commit: \(series.commits[2])"))
            #expect(bisect.stdoutText.contains("git bisect log:"))
            #expect(try Self.state(of: series.tree) == before, "bisect touched the user's tree")
        }

        @Test(.timeLimit(.minutes(30)))
        func ctrlCDuringASeriesLeavesNoQEMUNoMakeAndACleanWorktree() throws {
            let (series, before, dir) = try Self.prepare()
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("out")
            let child = try ChildProcess.spawn(
                Command(
                    CommandLineTests.binary,
                    [
                        "series", "--tree", series.tree.path, "--range",
                        "\(series.commits[0])..\(series.commits[4])", "--filter", Self.broken,
                        "--fresh",
                    ]), stdout: out.path, stderr: dir.appendingPathComponent("err").path)
            defer { child.kill() }
            // Interrupt once the second step is building or booting.
            let deadline = Date().addingTimeInterval(1800)
            while Date() < deadline, child.poll() == nil {
                let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
                if text.contains("[1/4]") { break }
                usleep(200_000)
            }
            try #require(child.poll() == nil, "the series ended before it could be interrupted")
            sleep(2)
            kill(child.pid, SIGINT)
            #expect(child.wait(timeout: 60) == 130)
            let worktree = Worktree.location(
                for: series.tree, cache: Cache(root: Cache.defaultRoot()))
            #expect(processes(matching: worktree.path).isEmpty, "a make or QEMU outlived the run")
            #expect(processes(matching: "-\(child.pid)-series/").isEmpty)
            let git = Git(worktree)
            #expect(
                try git.checked(["status", "--porcelain"]) == "", "the worktree was left changed")
            #expect(
                !FileManager.default.fileExists(
                    atPath: try git.gitDirectory().appendingPathComponent("rebase-apply").path))
            #expect(try Self.state(of: series.tree) == before)
            let stderr = try String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)
            #expect(stderr.contains("interrupted"))
        }
    }
}

/// The committer of the test's own series.
enum ScratchIdentity {
    static let environment = [
        "GIT_AUTHOR_NAME": "Ada Dev", "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_NAME": "Ada Dev",
        "GIT_COMMITTER_EMAIL": "ada@example.org", "GIT_COMMITTER_DATE": "@1700000000 +0000",
    ]
}

/// Live processes whose command line mentions `text` (make, its compilers,
/// QEMU), the test runner itself aside.
func processes(matching text: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    let me = String(getpid())
    return entries.filter { pid in
        guard Int(pid) != nil, pid != me,
            let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return false }
        let line = String(decoding: cmd, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
        return line.contains(text)
    }
}

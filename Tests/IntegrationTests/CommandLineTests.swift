import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// The `selftests` executable itself: exit codes, messages, Ctrl-C.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) struct CommandLineTests {
        static var binary: String {
            let me =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
            return URL(fileURLWithPath: me).deletingLastPathComponent()
                .appendingPathComponent("selftests").path
        }

        func selftests(_ arguments: [String]) throws -> CommandResult {
            try SystemRunner().run(Command(Self.binary, arguments), timeout: 600)
        }

        @Test func listShowsTheSuiteGroupedWithoutFixtures() throws {
            let result = try selftests(["list"])
            #expect(result.status == 0)
            #expect(result.stdoutText.contains("storage/\n"))
            #expect(result.stdoutText.contains("storage/sk/omem_uncharge_on_map_free"))
            #expect(!result.stdoutText.contains("fixture/"))
        }

        @Test func aKernelThatDoesNotExistIsExit2NamingIt() throws {
            let result = try selftests(["run", "--kernel", "/no/such/bzImage"])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("/no/such/bzImage"))
            #expect(result.stderrText.contains("fix:"))
        }

        /// For `git bisect run`, a runner that cannot give a verdict aborts
        /// (128) rather than marking the commit.
        @Test func bisectExitTurnsARunnerErrorInto128() throws {
            let result = try selftests(["run", "--bisect-exit", "--kernel", "/no/such/bzImage"])
            #expect(result.status == 128)
            #expect(result.stderrText.contains("/no/such/bzImage"))
        }

        @Test func aFilterThatMatchesNothingIsExit2() throws {
            let result = try selftests(["run", "--filter", "no/such/test"])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("no test matches"))
        }

        /// `run` and `memory` share their kernel and machine options, and
        /// the checks on them: each refusal is exit 2 and says why.
        @Test(arguments: ["run", "memory"])
        func badOptionValuesAreExit2(command: String) throws {
            let refusals: [([String], String)] = [
                (["--accel", "warp"], "warp"),
                (["--memory", "12"], "--memory must be at least 256"),
                (["--cpus", "0"], "--cpus must be at least 1"),
                (["--jobs=-1"], "--jobs must be 0 (auto) or more"),
                (["--boot-timeout", "0"], "timeouts must be positive"),
                (["--tree", "/src/linux", "--kernel", "/boot/vmlinuz"], "cannot go with --kernel"),
                (["--config", "debug"], "--config applies to a kernel built with --tree"),
            ]
            for (arguments, said) in refusals {
                let result = try selftests([command] + arguments)
                #expect(result.status == 2, "\(command) \(arguments)")
                #expect(
                    result.stderrText.contains(said),
                    "\(command) \(arguments): \(result.stderrText)")
            }
        }

        /// A report path that cannot be written is refused before anything
        /// runs (the usual CI case: a report directory not made yet), naming
        /// the option; no run directory is left.
        @Test func aReportPathThatCannotBeWrittenIsRefusedBeforeTheRun() throws {
            let dir = FileManager.default.temporaryDirectory
                .appendingPathComponent("cli-reports-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let cache = dir.appendingPathComponent("cache").path
            let file = dir.appendingPathComponent("file").path
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            let refusals: [[String]] = [
                ["run", "--filter", "fixture/pass", "--junit", "\(dir.path)/ci/junit.xml"],
                ["run", "--filter", "fixture/pass", "--json", dir.path],
                ["memory", "--output", file],
            ]
            for arguments in refusals {
                let result = try selftests(arguments + ["--cache-dir", cache])
                #expect(result.status == 2, "\(arguments): \(result.stderrText)")
                let option = arguments[arguments.count - 2]
                #expect(
                    result.stderrText.contains("input: \(option) \(arguments.last ?? "")"),
                    "\(arguments): \(result.stderrText)")
            }
            #expect(!FileManager.default.fileExists(atPath: cache + "/runs"))
        }

        /// `memory --tree` goes to the same build as `run --tree`: a
        /// directory that is no kernel tree is refused before anything runs.
        @Test(arguments: ["run", "memory"])
        func aTreeThatIsNoKernelIsExit2NamingIt(command: String) throws {
            let dir = FileManager.default.temporaryDirectory
                .appendingPathComponent("not-a-tree-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try selftests([command, "--tree", dir.path])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("\(dir.path) is not a kernel source tree"))
        }

        /// A series or bisect refuses bad input before it builds anything:
        /// exit 2, the input named, a fix, no run directory left.
        @Test func badSeriesAndBisectInputIsExit2NamingIt() throws {
            let repo = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cli-series-\(UUID())")
            try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: repo) }
            let git = Git(repo)
            try git.checked(["init", "-q"])
            try Data("x\n".utf8).write(to: repo.appendingPathComponent("Makefile"))
            try git.checked(["add", "."])
            try git.checked(["commit", "-q", "-m", "base"], environment: Git.identity)
            let garbage = repo.appendingPathComponent("garbage.mbox")
            try Data("not a mail at all\n".utf8).write(to: garbage)
            let cache = repo.appendingPathComponent("cache").path
            let plain = FileManager.default.temporaryDirectory.path
            let refusals: [([String], String)] = [
                (
                    ["series", "--tree", repo.path, "--mbox", "/no/such.mbox"],
                    "cannot read the mbox /no/such.mbox"
                ),
                (
                    ["series", "--tree", repo.path, "--mbox", garbage.path],
                    "\(garbage.path) holds no patch"
                ),
                (
                    ["series", "--tree", repo.path, "--range", "nope..HEAD"],
                    "'nope' names no commit"
                ),
                (["series", "--tree", repo.path, "--range", "HEAD"], "is not BASE..TIP"),
                (["series", "--tree", repo.path, "--range", "HEAD..HEAD"], "holds no commit"),
                (
                    ["series", "--tree", plain, "--range", "a..b"],
                    "\(plain) is not a git work tree"
                ),
                (["series", "--tree", repo.path], "give the series as --mbox FILE or as --range"),
                (
                    ["series", "--tree", repo.path, "--range", "a..b", "--base", "x"],
                    "--base goes with --mbox"
                ),
                (
                    [
                        "series", "--tree", repo.path, "--range", "HEAD..HEAD", "--json",
                        "/no/dir/x.json",
                    ], "the directory /no/dir does not exist"
                ),
                (
                    ["bisect", "--tree", repo.path, "--good", "nope", "--bad", "HEAD"],
                    "--good: 'nope' names no commit"
                ),
            ]
            for (arguments, said) in refusals {
                let result = try selftests(arguments + ["--cache-dir", cache])
                #expect(result.status == 2, "\(arguments): \(result.stderrText)")
                #expect(result.stderrText.contains(said), "\(arguments): \(result.stderrText)")
            }
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/runs")) ?? []
            #expect(runs.isEmpty, "a refused series left \(runs)")
            #expect(try git.checked(["worktree", "list"]).split(separator: "\n").count == 1)
        }

        /// Bad input of each kind is refused before anything slow: exit 2,
        /// and the refusal names the option as written.
        @Test func badKernelFilterAndMachineInputIsExit2NamingIt() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cli-input-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let image = try Data(contentsOf: URL(fileURLWithPath: kernel.path))
            let truncated = dir.appendingPathComponent("bzImage").path
            try image.prefix(image.count / 3).write(to: URL(fileURLWithPath: truncated))
            let refusals: [([String], String)] = [
                (["--vmlinux", "/bin/ls"], "--vmlinux /bin/ls"),
                (["--kernel", kernel.path, "--vmlinux", "/bin/ls"], "--vmlinux /bin/ls"),
                (["--kernel", dir.path], "--kernel \(dir.path)"),
                (["--kernel", truncated], "--kernel \(truncated)"),
                (["--filter", "storage/*,hahs/*"], "--filter 'storage/*,hahs/*'"),
                (["--filter", ""], "--filter ''"),
                (["--filter", ",,,"], "--filter ',,,'"),
                (["--cpus", "1000"], "--cpus 1000"),
                (["--memory", "100000000"], "--memory 100000000"),
                (["--test-timeout", "0.5"], "--test-timeout 0.5"),
            ]
            for (arguments, input) in refusals {
                let result = try selftests(["run"] + arguments)
                #expect(result.status == 2, "\(arguments): \(result.stderrText)")
                #expect(
                    result.stderrText.contains("  input: \(input)\n"),
                    "\(arguments): \(result.stderrText)")
            }
            // A cache under a regular file: refused before any work, nothing made.
            let file = dir.appendingPathComponent("file").path
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            let cache = try selftests(["run", "--cache-dir", file + "/cache"])
            #expect(cache.status == 2)
            #expect(
                cache.stderrText.contains("  input: --cache-dir \(file)/cache\n"),
                "\(cache.stderrText)")
            let list = try selftests(["list", "--filter", "storage/*,hahs/*"])
            #expect(list.status == 2)
            #expect(list.stderrText.contains("  input: --filter 'storage/*,hahs/*'\n"))
            let tree = try selftests(["kernel", "build", "--tree", "/nonexistent"])
            #expect(tree.status == 2)
            #expect(
                tree.stderrText.contains("  input: --tree /nonexistent\n"), "\(tree.stderrText)")
        }

        @Test func aFailingTestIsExit1WithJUnitAndJSON() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let junit = dir.appendingPathComponent("out.xml").path
            let json = dir.appendingPathComponent("out.json").path
            let kcidb = dir.appendingPathComponent("kcidb.json").path
            let result = try selftests([
                "run", "--filter", "fixture/fail,fixture/pass", "--junit", junit, "--json", json,
                "--kcidb", kcidb,
            ])
            #expect(result.status == 1)
            #expect(result.stdoutText.contains("1 passed, 1 failed"))
            let xml = try String(contentsOfFile: junit, encoding: .utf8)
            #expect(xml.contains("<failure"))
            let report = try JSONDecoder().decode(
                RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
            #expect(report.records.map(\.outcome) == [.pass, .fail])
            // KernelCI's own validator takes the real run's KCIDB data.
            let check = try SystemRunner().run(
                Command(
                    Cache.defaultRoot().appendingPathComponent("venv/bin/python").path,
                    [
                        "-c",
                        "import json, sys, kcidb_io; "
                            + "kcidb_io.schema.LATEST.validate_exactly(json.load(open(sys.argv[1])))",
                        kcidb,
                    ]))
            #expect(check.status == 0, "\(check.stderrText)")
            let kcidbText = try String(contentsOfFile: kcidb, encoding: .utf8)
            #expect(kcidbText.contains(#""path" : "bpf.fixture.fail""#))
        }

        /// Two runners, `--shard 1/2` and `2/2`, then `merge`: the merged
        /// report is the selection once, in order, with each verdict, and
        /// its exit code is the whole run's.
        @Test func twoShardsMergeIntoTheWholeRun() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cli-shards-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let filter = "fixture/pass,fixture/fail,fixture/skip"
            var paths: [String] = []
            for k in 1...2 {
                let json = dir.appendingPathComponent("shard-\(k).json").path
                let result = try selftests([
                    "run", "--filter", filter, "--shard", "\(k)/2", "--json", json,
                ])
                #expect(result.status == (k == 2 ? 1 : 0), "shard \(k): \(result.stderrText)")
                paths.append(json)
            }
            let first = try JSONReport.report(
                from: Data(contentsOf: URL(fileURLWithPath: paths[0])))
            #expect(first.records.map(\.name) == ["fixture/pass", "fixture/skip"])
            let merged = dir.appendingPathComponent("merged.json").path
            let junit = dir.appendingPathComponent("merged.xml").path
            let markdown = dir.appendingPathComponent("summary.md").path
            let result = try selftests(
                ["merge"] + paths.reversed()
                    + ["--json", merged, "--junit", junit, "--markdown", markdown])
            #expect(result.status == 1, "\(result.stderrText)")
            let report = try JSONReport.report(from: Data(contentsOf: URL(fileURLWithPath: merged)))
            #expect(report.records.map(\.name) == ["fixture/pass", "fixture/fail", "fixture/skip"])
            #expect(report.records.map(\.outcome) == [.pass, .fail, .skip])
            #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("<failure"))
            #expect(try String(contentsOfFile: markdown, encoding: .utf8).contains("did not pass"))
            // One shard alone is not the whole run.
            let alone = try selftests(["merge", paths[0]])
            #expect(alone.status == 2)
            #expect(alone.stderrText.contains("shard 2/2 is missing"))
        }

        @Test func ctrlCStopsTheRunAndLeavesNoQEMU() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cli-int-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try ChildProcess.spawn(
                Command(Self.binary, ["run", "--filter", "fixture/hang"]),
                stdout: dir.appendingPathComponent("out").path,
                stderr: dir.appendingPathComponent("err").path)
            defer { child.kill() }
            // The run's artifacts directory ends in the runner's pid.
            let ours = "-\(child.pid)/boot-"
            let deadline = Date().addingTimeInterval(120)
            while qemuProcesses(using: ours).isEmpty && Date() < deadline && child.poll() == nil {
                usleep(50_000)
            }
            try #require(!qemuProcesses(using: ours).isEmpty, "the run never started QEMU")
            kill(child.pid, SIGINT)
            let status = child.wait(timeout: 30)
            #expect(status == 130)
            #expect(qemuProcesses(using: ours).isEmpty, "QEMU outlived the interrupted run")
            let stderr = try String(
                contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)
            #expect(stderr.contains("interrupted"))
        }
    }
}

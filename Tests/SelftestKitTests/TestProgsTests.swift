import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// test_progs' own output, captured from real runs (see
/// Fixtures/test_progs/SOURCES.md), read into our records.
@Suite(.tags(.unit)) struct TestProgsOutputTests {
    static func lines(_ name: String) throws -> [String] {
        // The capture came through the serial console: CRLF line ends.
        try KBuildFixture.text("test_progs/\(name)").split(
            omittingEmptySubsequences: false, whereSeparator: \.isNewline
        ).map(String.init)
    }

    @Test func resultLinesAreReadWithTheirNumbersNamesAndStatus() {
        let sub = TestProgsOutput.result("#61/6    cgrp_local_storage/yes_rcu_lock:FAIL")
        #expect(sub?.number == 61)
        #expect(sub?.test == "cgrp_local_storage")
        #expect(sub?.subtest == "yes_rcu_lock")
        #expect(sub?.status == .fail)
        let top = TestProgsOutput.result("#121     htab_reuse:OK")
        #expect(top?.subtest == nil)
        #expect(top?.status == .ok)
        let partly = TestProgsOutput.result("#12      foo:OK (SKIP: 1/3)")
        #expect(partly?.status == .okWithSkips(skipped: 1, total: 3))
        #expect(TestProgsOutput.result("#61      cgrp_local_storage:SKIP")?.status == .skip)
        // Log lines that merely start with '#', and a subtest number on a
        // name without a subtest, are not results.
        #expect(TestProgsOutput.result("# of entries: 3") == nil)
        #expect(TestProgsOutput.result("#61/2    cgrp_local_storage:OK") == nil)
        #expect(TestProgsOutput.result("test_yes_rcu_lock:FAIL:skel_load unexpected error") == nil)
    }

    @Test func aRealRunGivesEachTestAndSubtestItsVerdictAndAFailureItsLog() throws {
        let lines = try Self.lines("debian-6.12-agreement.txt")
        let output = TestProgsOutput.parse(lines)
        #expect(output.complete)
        #expect(output.preamble.first == "Can't find bpf_testmod.ko kernel module: -2")
        // The results before "All error logs:", not the repeats after it.
        #expect(output.results.filter { $0.subtest == nil }.count == 9)

        let cgrp = TestProgsOutput.record(
            name: "test_progs/cgrp_local_storage", lines: lines, end: .exited(1), duration: 2.5)
        #expect(cgrp.outcome == .fail)
        #expect(cgrp.duration == 2.5)
        #expect(cgrp.subtests.count == 13)
        let failing = cgrp.subtests.filter { $0.outcome == .fail }.map(\.name)
        #expect(
            failing == [
                "test_progs/cgrp_local_storage/yes_rcu_lock",
                "test_progs/cgrp_local_storage/cgrp1_yes_rcu_lock",
                "test_progs/cgrp_local_storage/cgrp1_no_rcu_lock",
            ])
        let evidence = try #require(
            cgrp.subtests.first { $0.name.hasSuffix("/yes_rcu_lock") }?.message)
        #expect(evidence.contains("__x64_sys_getpgid is not sleepable"), "the verifier's words")
        #expect(
            evidence.hasPrefix("test_yes_rcu_lock:FAIL:skel_load unexpected error: -22"),
            "the failed check leads")
        #expect(!evidence.contains(":PASS:"))
        #expect(cgrp.subtests.first { $0.name.hasSuffix("/tp_btf") }?.outcome == .pass)
        #expect(cgrp.subtests.first { $0.name.hasSuffix("/tp_btf") }?.message == nil)

        let omem = TestProgsOutput.record(
            name: "test_progs/sk_storage_omem_uncharge", lines: lines, end: .exited(1),
            duration: nil)
        #expect(omem.outcome == .pass)
        #expect(omem.subtests.isEmpty)

        let local = TestProgsOutput.record(
            name: "test_progs/test_local_storage", lines: lines, end: .exited(1), duration: nil)
        #expect(local.outcome == .fail)
        #expect(
            local.message?.hasPrefix(
                "test_test_local_storage:FAIL:system(cp) unexpected error: 256") == true)
        #expect(local.message?.contains("cp: can't stat '/bin/rm'") == true, "what else it printed")
    }

    @Test func aStreamCutBeforeTheResultSaysSoAndKeepsTheLastLines() throws {
        let lines = try Self.lines("debian-6.12-agreement.txt")
        let cut = Array(lines.prefix { !$0.hasPrefix("#342     task_local_storage") })
        let record = TestProgsOutput.record(
            name: "test_progs/task_local_storage", lines: cut, end: nil, duration: nil)
        #expect(record.outcome == .fail)
        #expect(record.subtests.count == 4, "the subtests it reported before the cut")
        #expect(record.message?.hasPrefix("test_progs's output ended after 4 subtest(s)") == true)

        let killed = TestProgsOutput.record(
            name: "test_progs/task_local_storage", lines: cut, end: .killed(afterSeconds: 300),
            duration: 300)
        #expect(killed.outcome == .timeout)
        #expect(killed.message?.contains("after 300 s; the agent killed it") == true)
    }

    @Test func aSkippedSubtestIsASkipAndItsTestStillPasses() throws {
        let record = TestProgsOutput.record(
            name: "test_progs/task_local_storage",
            lines: try Self.lines("task-local-storage-skip.txt"),
            end: .exited(0), duration: nil)
        #expect(record.outcome == .pass)
        #expect(record.message == "1 of 4 subtests skipped")
        #expect(record.subtests.map(\.outcome) == [.pass, .pass, .pass, .skip])
        #expect(record.subtests.last?.name == "test_progs/task_local_storage/nodeadlock")
        #expect(record.subtests.last?.message == TestProgsOutput.silentSkip)
        #expect(
            record.diagnostics == [
                "WARNING! Selftests relying on bpf_testmod.ko will be skipped.",
                "Can't find bpf_testmod.ko kernel module: -2",
            ])
    }

    /// A real kill at the bound, as the agent reported it.
    @Test func aTestKilledAtItsBoundIsATimeout() throws {
        let ktap = try KBuildFixture.text("test_progs/killed-at-bound.ktap")
        let records = RecordBuilder.records(from: KTAPParser.parse(ktap))
        #expect(
            records.map(\.name) == [
                "storage/sk/user_update_flags", "test_progs/cgrp_local_storage",
            ])
        let killed = try #require(records.last)
        #expect(killed.outcome == .timeout)
        #expect(killed.message == "test_progs was still running after 5 s; the agent killed it")
        #expect(killed.duration == 5.034)
        #expect(killed.diagnostics.contains("Can't find bpf_testmod.ko kernel module: -2"))
    }

    @Test func exitCodesWithoutAResultMapToTheirOwnOutcomes() {
        let none = TestProgsOutput.record(
            name: "test_progs/nope", lines: [], end: .exited(2), duration: nil)
        #expect(none.outcome == .skip)
        #expect(none.message?.contains("exit 2") == true)
        let setup = TestProgsOutput.record(
            name: "test_progs/x", lines: ["Failed to mount bpffs"], end: .exited(3), duration: nil)
        #expect(setup.outcome == .infraError)
        #expect(setup.message?.contains("Failed to mount bpffs") == true)
        let crashed = TestProgsOutput.record(
            name: "test_progs/x", lines: [], end: .signaled(11), duration: nil)
        #expect(crashed.outcome == .fail)
        #expect(crashed.message?.contains("signal 11") == true)
        let missing = TestProgsOutput.record(
            name: "test_progs/x", lines: [], end: .notStarted("no /test_progs/test_progs"),
            duration: nil)
        #expect(missing.outcome == .infraError)
    }

    @Test func theAgentsEndLineRoundTrips() {
        for end in [
            TestProgsEnd.exited(1), .signaled(9), .killed(afterSeconds: 30), .notStarted("why not"),
        ] {
            #expect(TestProgsEnd(agentLine: end.agentLine) == end)
        }
        #expect(TestProgsEnd(agentLine: "exit") == nil)
    }

    /// The agent's KTAP for an entry goes through the same record builder
    /// as ours.
    @Test func theAgentsKTAPBecomesTestProgsRecords() throws {
        let lines = try Self.lines("debian-6.12-agreement.txt")
        var ktap = "KTAP version 1\n1..1\n# start test_progs/htab_update\n"
        for line in lines { ktap += "# tp| \(line)\n" }
        ktap += "# tp-end: exit 1\n# duration_ms: 1500\nnot ok 1 test_progs/htab_update\n"
        let records = RecordBuilder.records(from: KTAPParser.parse(ktap))
        let record = try #require(records.first)
        #expect(record.name == "test_progs/htab_update")
        #expect(record.outcome == .pass, "its own lines say OK, whatever the process exit")
        #expect(record.duration == 1.5)
        #expect(
            record.subtests.map(\.name) == [
                "test_progs/htab_update/reenter_update", "test_progs/htab_update/concurrent_update",
            ])
    }
}

/// What a failed test_progs build says, turned into files to leave out.
@Suite(.tags(.unit)) struct TestProgsBreakageTests {
    @Test func aTestThatIncludesAMissingSkeletonIsLeftOutWithTheError() throws {
        let log = try KBuildFixture.text("test_progs/build-clean-errors-6.12.log")
        let breakage = TestProgsBreakage.analyze(
            log: log, stripping: ["/tmp/tp/src/tools/testing/selftests/bpf/", "/tmp/tp/out/"])
        let error = try #require(breakage.testFiles["bpf_attr_size.c"])
        #expect(error.message.contains("'cgroup_skb_direct_packet_access.skel.h' file not found"))
        #expect(error.line == 8)
        // jit_disasm_helpers.c is part of test_progs itself: no test can go.
        #expect(breakage.other?.file == "jit_disasm_helpers.c")
    }

    @Test func noRuleForASkeletonNamesTheTestFileThatNeedsIt() throws {
        let log = try KBuildFixture.text("test_progs/build-incremental-no-rule-6.12.log")
        let breakage = TestProgsBreakage.analyze(log: log, stripping: [])
        #expect(breakage.other == nil)
        #expect(breakage.testFiles.keys.contains("atomics.c"))
        #expect(breakage.testFiles.keys.contains("ringbuf.c"))
        #expect(
            breakage.testFiles["fentry_fexit.c"]?.message.contains("fentry_test.lskel.h") == true)
    }

    @Test func aBrokenProgramTakesEveryTestThatIncludesItsSkeleton() {
        var breakage = TestProgsBreakage()
        breakage.programs["foo.c"] = BuildError(
            file: "progs/foo.c", line: 3, message: "error: unknown type name 'struct bar'")
        let found = breakage.dependents(in: [
            "a.c": "#include \"foo.skel.h\"\nvoid test_a(void) {}",
            "b.c": "#include \"foo.lskel.h\"\n",
            "c.c": "#include \"foobar.skel.h\"\n",
        ])
        #expect(found.keys.sorted() == ["a.c", "b.c"])
        #expect(
            found["a.c"]?.message.hasPrefix("needs progs/foo.c, which does not compile") == true)
    }

    @Test func testNamesAreFoundAsTheMakefileFindsThem() {
        let text = """
            static void test_helper(void) {}
            void test_task_local_storage(void)
            {
            }
            void serial_test_lru_bug(void) {}
            void test_not_a_test(int x) {}
            """
        #expect(TestProgsBreakage.testNames(in: text) == ["task_local_storage", "lru_bug"])
        #expect(
            TestProgsBreakage.builtTests(
                header:
                    "/* Generated header, do not edit */\nDEFINE_TEST(align)\nDEFINE_TEST(atomics)\n"
            )
                == ["align", "atomics"])
    }
}

@Suite(.tags(.unit)) struct TestProgsSelectionTests {
    static let available = [
        "cgrp_local_storage", "hashmap", "htab_reuse", "htab_update", "task_local_storage",
    ]

    @Test func namesSubtestsAndGlobsBecomeOneEntryPerTest() throws {
        let selection = try TestProgsSelection(
            "htab_*,task_local_storage/recursion,task_local_storage/sys_*")
        let entries = try selection.entries(available: Self.available)
        #expect(
            entries.map(\.name) == [
                "test_progs/htab_reuse", "test_progs/htab_update", "test_progs/task_local_storage",
            ])
        #expect(
            entries.last?.allow == ["task_local_storage/recursion", "task_local_storage/sys_*"])
        let whole = try TestProgsSelection("hashmap/generic,hashmap").entries(
            available: Self.available)
        #expect(whole.first?.allow == ["hashmap"], "the whole test covers its subtests")
    }

    @Test func aPatternThatMatchesNothingIsRefusedByName() throws {
        let selection = try TestProgsSelection("hashmap,hahsmap")
        #expect(throws: SelftestError.self) { try selection.entries(available: Self.available) }
        #expect(throws: SelftestError.self) { try TestProgsSelection("hashmap,,htab_reuse") }
        #expect(throws: SelftestError.self) { try TestProgsSelection("") }
    }

    @Test func aWholeTestDeniedIsNotRunAndASubtestDenialGoesToTestProgs() throws {
        let selection = try TestProgsSelection(
            "htab_*,hashmap", deny: ["htab_reuse", "hashmap/empty"])
        let entries = try selection.entries(available: Self.available)
        #expect(entries.map(\.test) == ["hashmap", "htab_update"])
        let spec = TestProgsSelection.spec(
            for: entries[0], timeout: 120, denyFile: "/test_progs/deny", watchdog: false)
        #expect(spec.arguments == ["-a", "hashmap", "-d", "@/test_progs/deny"])
        let watched = TestProgsSelection.spec(
            for: entries[0], timeout: 120, denyFile: nil, watchdog: true)
        #expect(watched.arguments == ["-a", "hashmap", "-w", "110"])
        #expect(watched.timeoutSeconds == 120)
    }

    @Test func aDenyFileIsReadWithoutCommentsOrBlankLines() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deny-\(getpid())")
        try "# flaky under TCG\nhtab_reuse\n\nhashmap/empty  # slow\n".write(
            to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try TestProgsSelection.denyList(at: url.path) == ["htab_reuse", "hashmap/empty"])
        #expect(throws: SelftestError.self) { try TestProgsSelection.denyList(at: "/nonexistent") }
    }
}

@Suite(.tags(.unit)) struct TestProgsListingTests {
    /// `list --test-progs` reads the tests from the tree's sources, as the
    /// Makefile does, and marks what the last build left out.
    @Test func theListComesFromTheSourcesWithLeftOutTestsMarked() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "listing-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let tree = root.appendingPathComponent("linux")
        let tests = tree.appendingPathComponent("tools/testing/selftests/bpf/prog_tests")
        try FileManager.default.createDirectory(at: tests, withIntermediateDirectories: true)
        try "void test_htab_reuse(void)\n{\n}\nvoid serial_test_lru_bug(void) {}\n".write(
            to: tests.appendingPathComponent("maps.c"), atomically: true, encoding: .utf8)
        try "#include \"missing.skel.h\"\nvoid test_bpf_attr_size(void) {}\n".write(
            to: tests.appendingPathComponent("bpf_attr_size.c"), atomically: true, encoding: .utf8)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        var memory = LeftOutMemory()
        memory.files = [
            LeftOutFile(
                path: "prog_tests/bpf_attr_size.c", digest: "d", tests: ["bpf_attr_size"],
                error: BuildError(
                    file: "prog_tests/bpf_attr_size.c", line: 1,
                    message: "error: 'missing.skel.h' file not found"))
        ]
        let dir = TestProgsBuilder.directory(for: tree, cache: cache)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        memory.save(dir)

        let listing = try TestProgsListing.read(tree: tree, cache: cache)
        #expect(listing.tests == ["bpf_attr_size", "htab_reuse", "lru_bug"])
        #expect(
            listing.leftOut["bpf_attr_size"]
                == "prog_tests/bpf_attr_size.c:1: error: 'missing.skel.h' file not found")
        #expect(throws: SelftestError.self) {
            try TestProgsListing.read(tree: root, cache: cache)
        }
    }
}

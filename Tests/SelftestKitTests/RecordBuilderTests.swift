import SelftestKit
import SelftestTestSupport
import Testing

@Suite(.tags(.unit)) struct RecordBuilderTests {
    static func records(_ ktap: String) throws -> [TestRecord] {
        RecordBuilder.records(from: try ParserFixture.ktap(ktap))
    }

    static func splats(_ console: String) throws -> [Splat] {
        ConsoleLog.parse(try ParserFixture.text("console/\(console)")).splats
    }

    @Test func guestAgentOutcomesMessagesAndDurations() throws {
        let records = try Self.records("agent-fixtures-done.ktap")
        #expect(
            records.map(\.outcome) == [.pass, .fail, .skip, .pass, .pass, .pass, .timeout, .pass])
        let byName = Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0) })
        let pass = try #require(byName["fixture/pass"])
        #expect(pass.message == nil)
        #expect(pass.diagnostics == ["nothing to see"])
        #expect(pass.duration == 0.027)
        let fail = try #require(byName["fixture/fail"])
        #expect(fail.message == "fixture arithmetic: expected 3, got 2 (line 9)")
        #expect(fail.diagnostics.isEmpty)
        #expect(fail.duration == 0.02)
        #expect(byName["fixture/skip"]?.message == "the fixture always skips")
        let hang = try #require(byName["fixture/hang"])
        #expect(hang.message == "no result after the test's bound; the agent killed it")
        #expect(hang.duration == 3.015)
    }

    @Test func casesBecomeSubtestsNamedParentSlashChild() throws {
        let records = try Self.records("agent-fixtures-done.ktap")
        let close = try #require(records.first { $0.name == "storage/sk/omem_uncharge_on_close" })
        #expect(
            close.subtests.map(\.name) == [
                "storage/sk/omem_uncharge_on_close/tcp", "storage/sk/omem_uncharge_on_close/udp",
            ])
        #expect(close.subtests.map(\.outcome) == [.pass, .pass])
        #expect(close.diagnostics.count == 2)
        #expect(close.diagnostics.allSatisfy { $0.contains("optmem 0 -> 296") })
    }

    @Test func nestedSpecExampleKeepsEveryLevel() throws {
        let main = try #require(try Self.records("spec-example.ktap").first)
        #expect(main.outcome == .fail)
        let third = main.subtests[2]
        #expect(third.name == "main_test/example_test_3")
        #expect(third.subtests.map(\.outcome) == [.pass, .fail, .skip])
        #expect(third.subtests[1].name == "main_test/example_test_3/test_2")
        #expect(third.subtests[1].diagnostics == ["test_2: FAIL"])
        #expect(third.subtests[2].message == "test_3 skipped")
        #expect(main.subtests[0].subtests[0].diagnostics == ["test_1: initializing test_1"])
    }

    @Test(arguments: [
        ("ok 1 t # TODO not yet", Outcome.pass),
        ("not ok 1 t # TODO not yet", .skip),
        ("ok 1 t # XFAIL expected", .pass),
        ("not ok 1 t # ERROR no such map", .fail),
        ("not ok 1 t # SKIP needs root", .skip),
        ("not ok 1 t # TIMEOUT 30 seconds", .timeout),
    ])
    func directiveOutcomes(line: String, outcome: Outcome) throws {
        let record = try #require(
            RecordBuilder.records(from: KTAPParser.parse("KTAP version 1\n1..1\n\(line)\n")).first)
        #expect(record.outcome == outcome)
        #expect(record.message != nil)
    }

    @Test func warningPinnedOnItsTestAndACrashOnTheTestThatNeverReported() throws {
        let document = try ParserFixture.ktap("agent-crash-truncated.ktap")
        let splats = try Self.splats("agent-devkmsg-on-6.12.log")
        let pinned = RecordBuilder.pin(splats, on: RecordBuilder.records(from: document))
        let warn = try #require(pinned.records.first { $0.name == "fixture/warn" })
        #expect(warn.outcome == .splat)
        #expect(warn.splats.map(\.kind) == [.warning])
        let others = pinned.records.filter { $0.name != "fixture/warn" }
        #expect(others.allSatisfy { $0.splats.isEmpty })
        #expect(pinned.unattributed.map(\.kind) == [.panic])
        #expect(pinned.unattributed.first?.test == "fixture/crash")

        let placeholder = document.unfinishedTests.map { TestRecord(name: $0, outcome: .fail) }
        let crashed = RecordBuilder.pin(
            splats,
            on: pinned.records.map {
                var record = $0
                record.splats = []
                return record
            } + placeholder)
        #expect(crashed.unattributed.isEmpty)
        #expect(crashed.records.last?.outcome == .kernelCrash)
        #expect(
            crashed.records.last?.splats.first?.title
                == "Kernel panic - not syncing: sysrq triggered crash")
    }

    @Test func aCrashDoesNotHideAWorseOutcome() throws {
        let splats = try Self.splats("freeze-hang-sysrq-panic-6.12.log")
        let records = [
            TestRecord(name: "maps/basic", outcome: .pass),
            TestRecord(name: "fs/freeze_hang", outcome: .pass),
            TestRecord(name: "crash/sysrq", outcome: .infraError),
        ]
        let pinned = RecordBuilder.pin(splats, on: records)
        #expect(pinned.records.map(\.outcome) == [.pass, .splat, .infraError])
        #expect(pinned.records[1].splats.map(\.kind) == [.hungTask])
        #expect(pinned.records[2].splats.map(\.kind) == [.panic])
        #expect(pinned.unattributed.isEmpty)
    }

    @Test(arguments: [Outcome.skip, .fail, .timeout, .kernelCrash])
    func nonCrashSplatsOnlyDowngradeAPass(outcome: Outcome) throws {
        let splats = try Self.splats("host-stall-6.12.log")
        let pinned = RecordBuilder.pin(
            splats, on: [TestRecord(name: "sched/host_stall", outcome: outcome)])
        #expect(pinned.records[0].outcome == outcome)
        #expect(pinned.records[0].splats.map(\.kind) == [.rcuStall, .softLockup])
    }

    @Test func splatsOutsideAnyTestStayUnattributed() throws {
        let document = try ParserFixture.ktap("agent-fixtures-done.ktap")
        let splats = try Self.splats("agent-devkmsg-ratelimited-6.12.log")
        let pinned = RecordBuilder.pin(splats, on: RecordBuilder.records(from: document))
        #expect(pinned.unattributed.map(\.kind) == [.warning])
        #expect(pinned.records.first { $0.name == "fixture/warn" }?.outcome == .pass)
        #expect(pinned.records == RecordBuilder.records(from: document))
    }

    @Test func kunitFailureLogBecomesRecords() throws {
        let records = try Self.records("kunit-is_test_passed-failure.ktap")
        #expect(records.map(\.name) == ["sysctl_test", "example"])
        #expect(records.map(\.outcome) == [.pass, .fail])
        #expect(
            records[1].subtests.map(\.name) == [
                "example/example_simple_test", "example/example_mock_test",
            ])
        #expect(records[1].subtests.map(\.outcome) == [.fail, .pass])
        #expect(records[1].subtests[0].message == nil)
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `selftests cache` and `cache prune`, through the built binary, on a
/// cache made for the test (nothing boots).
extension VirtualMachineSuites {
    @Suite(.tags(.unit)) struct CacheCommandTests {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cache-command-\(UUID().uuidString)")

        func selftests(_ arguments: [String], environment: [String: String] = [:]) throws
            -> CommandResult
        {
            try SystemRunner().run(
                Command(CommandLineTests.binary, arguments, environment: environment),
                timeout: 120)
        }

        /// Three images of 1 MiB used in order, two runs.
        func fill() throws -> Cache {
            let cache = Cache(root: root)
            for (index, name) in ["a.cpio", "b.cpio", "c.cpio"].enumerated() {
                let url = try cache.directory("images").appendingPathComponent(name)
                try Cache.writeRecorded(Data(repeating: 1, count: 1 << 20), to: url)
                let marker = ImagePin.marker(url)
                try Data().write(to: marker)
                try FileManager.default.setAttributes(
                    [.modificationDate: Date().addingTimeInterval(Double(index - 10) * 60)],
                    ofItemAtPath: marker.path)
            }
            for name in ["2020-01-01T000000Z-1", "2020-01-02T000000Z-1"] {
                let dir = try cache.directory("runs", name)
                try Data(repeating: 2, count: 1 << 16).write(to: dir.appendingPathComponent("log"))
            }
            return cache
        }

        @Test func showsEachAreaWithItsSizeAsTableAndJSON() throws {
            let cache = try fill()
            defer { try? FileManager.default.removeItem(at: cache.root) }
            let table = try selftests(["cache", "--cache-dir", root.path])
            #expect(table.status == 0, "\(table.stderrText)")
            #expect(table.stdoutText.contains("images"))
            #expect(table.stdoutText.contains("total"))
            let json = try selftests(["cache", "--cache-dir", root.path, "--json"])
            let usage = try JSONDecoder().decode(CacheUsage.self, from: json.stdout)
            #expect(usage.areas.map(\.name) == ["images", "runs"])
            #expect(usage.areas.map(\.entries) == [3, 2])
            #expect(usage.total >= 3 << 20)
        }

        @Test func pruneDryRunThenRealRemovesTheLeastRecentlyUsed() throws {
            let cache = try fill()
            defer { try? FileManager.default.removeItem(at: cache.root) }
            let arguments = ["cache", "prune", "--cache-dir", root.path, "--images-max", "1.5M"]
            let dry = try selftests(arguments + ["--runs-keep", "1", "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderrText)")
            #expect(dry.stdoutText.contains("would remove images/a.cpio"))
            #expect(dry.stdoutText.contains("would remove images/b.cpio"))
            #expect(dry.stdoutText.contains("would remove runs/2020-01-01T000000Z-1"))
            #expect(Cache.exists(cache.entry("images", "a.cpio")))
            let real = try selftests(arguments + ["--runs-keep", "1"])
            #expect(real.status == 0, "\(real.stderrText)")
            #expect(real.stdoutText.contains("freed 2."))
            #expect(!Cache.exists(cache.entry("images", "a.cpio")))
            #expect(Cache.exists(cache.entry("images", "c.cpio")))
            #expect(Cache.exists(cache.entry("runs", "2020-01-02T000000Z-1")))
        }

        @Test func badBoundsAreExit2NamingTheOption() throws {
            let refusals: [([String], String)] = [
                (["--images-max", "5X"], "--images-max 5X"),
                (["--runs-max", "lots"], "--runs-max lots"),
                (["--runs-keep=-2"], "--runs-keep -2"),
                (["--runs-keep", "many"], "--runs-keep many"),
            ]
            for (arguments, input) in refusals {
                let result = try selftests(
                    ["cache", "prune", "--cache-dir", root.path] + arguments)
                #expect(result.status == 2, "\(arguments)")
                #expect(result.stderrText.contains("input: \(input)"), "\(result.stderrText)")
            }
            let run = try selftests(
                ["run", "--cache-dir", root.path], environment: ["SELFTESTS_IMAGES_MAX": "5X"])
            defer { try? FileManager.default.removeItem(at: root) }
            #expect(run.status == 2)
            #expect(run.stderrText.contains("input: SELFTESTS_IMAGES_MAX=5X"))
        }
    }
}

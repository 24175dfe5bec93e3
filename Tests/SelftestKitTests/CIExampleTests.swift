import Foundation
import SelftestTestSupport
import Testing
import Yams

@testable import SelftestKit

/// The example CI files run as they are: valid YAML, only the README's
/// commands, and shard lists that match what `--shard` and `merge` take.
@Suite(.tags(.unit)) struct CIExampleTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ci/examples")

    func load(_ name: String) throws -> [String: Any] {
        let text = try String(
            contentsOf: Self.examples.appendingPathComponent(name), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any], "\(name) is no mapping")
    }

    /// Every command a job runs is one of the README's: the setup script,
    /// `swift run selftests …`, or putting the summary where CI shows it.
    func expectOnlyREADMECommands(_ commands: [String], in file: String) {
        #expect(!commands.isEmpty)
        for command in commands {
            let ok =
                command == "scripts/setup.sh" || command.hasPrefix("swift run selftests ")
                || command.hasPrefix("cat summary.md")
            #expect(ok, "\(file) runs '\(command)'")
        }
    }

    /// The `--shard` value of a `selftests run` command, and the report
    /// files `merge` is given.
    func shardArgument(_ command: String) -> String? {
        let words = command.split(separator: " ").map(String.init)
        return words.firstIndex(of: "--shard").map { words[$0 + 1] }
    }

    func mergedFiles(_ command: String) -> [String] {
        command.split(separator: " ").map(String.init).filter { $0.hasSuffix(".json") }
            .filter { $0.hasPrefix("shard-") }
    }

    @Test func githubActionsShardsTheSuiteAndMergesEveryShard() throws {
        let file = try load("github-actions.yml")
        let jobs = try #require(file["jobs"] as? [String: Any])
        let shard = try #require(jobs["shard"] as? [String: Any])
        let strategy = try #require(shard["strategy"] as? [String: Any])
        let matrix = try #require(strategy["matrix"] as? [String: Any])
        let indices = try #require(matrix["shard"] as? [Int])
        let runs = { (job: [String: Any]) -> [String] in
            ((job["steps"] as? [[String: Any]]) ?? []).compactMap { $0["run"] as? String }
        }
        let run = try #require(runs(shard).first { $0.contains("selftests run") })
        for index in indices {
            let command = run.replacingOccurrences(of: "${{ matrix.shard }}", with: "\(index)")
            let shard = try Shard(parsing: try #require(shardArgument(command)))
            #expect(shard.count == indices.count, "the matrix and --shard …/N disagree")
        }
        #expect(indices == Array(1...indices.count))
        let merge = try #require(jobs["merge"] as? [String: Any])
        #expect(merge["needs"] as? String == "shard")
        let mergeRun = try #require(runs(merge).first { $0.contains("selftests merge") })
        #expect(mergedFiles(mergeRun) == indices.map { "shard-\($0).json" })
        expectOnlyREADMECommands(runs(shard) + runs(merge), in: "github-actions.yml")
    }

    @Test func gitlabParallelJobsShardTheSuiteAndMergeEveryShard() throws {
        let file = try load("gitlab-ci.yml")
        let test = try #require(file["selftests"] as? [String: Any])
        let parallel = try #require(test["parallel"] as? Int)
        let script = try #require(test["script"] as? [String])
        let run = try #require(script.first { $0.contains("selftests run") })
        let argument = try #require(shardArgument(run))
        #expect(argument == "$CI_NODE_INDEX/$CI_NODE_TOTAL")
        // GitLab numbers parallel jobs 1…N and sets CI_NODE_TOTAL to N.
        for index in 1...parallel {
            let shard = try Shard(parsing: "\(index)/\(parallel)")
            #expect(shard.index == index)
        }
        let artifacts = try #require(test["artifacts"] as? [String: Any])
        let reports = try #require(artifacts["reports"] as? [String: Any])
        #expect(reports["junit"] as? String == "shard-*.xml")
        let merge = try #require(file["merge"] as? [String: Any])
        let mergeScript = try #require(merge["script"] as? [String])
        let mergeRun = try #require(mergeScript.first { $0.contains("selftests merge") })
        #expect(mergedFiles(mergeRun) == (1...parallel).map { "shard-\($0).json" })
        expectOnlyREADMECommands(script + mergeScript, in: "gitlab-ci.yml")
    }
}

extension NeedsTools {
    /// The example CI files against the schemas of the CI systems that run
    /// them: check-jsonschema, which scripts/setup.sh installs.
    @Suite(.tags(.needsTools)) struct CISchemaTests {
        /// The schemas GitHub and GitLab publish for these files (bundled by
        /// check-jsonschema, which setup.sh installs), so a key GitHub or GitLab
        /// would refuse fails here, not on a team's first push.
        @Test(arguments: [
            ("github-actions.yml", "vendor.github-workflows"),
            ("gitlab-ci.yml", "vendor.gitlab-ci"),
        ])
        func theExampleFollowsItsCISystemsSchema(file: String, schema: String) throws {
            #expect(
                try Self.schemaCheck(CIExampleTests.examples.appendingPathComponent(file), schema)
                    == nil)
        }

        /// The check is no rubber stamp: a matrix that is no mapping is refused.
        @Test func theSchemaCheckRefusesAMalformedWorkflow() throws {
            let scratch = FileManager.default.temporaryDirectory
                .appendingPathComponent("selftests-ci-\(UUID().uuidString).yml")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let text = try String(
                contentsOf: CIExampleTests.examples.appendingPathComponent("github-actions.yml"),
                encoding: .utf8)
            let broken = text.replacingOccurrences(of: "matrix:", with: "matrix: 3\n      unused:")
            #expect(broken != text)
            try broken.write(to: scratch, atomically: true, encoding: .utf8)
            let complaint = try Self.schemaCheck(scratch, "vendor.github-workflows")
            #expect(complaint?.contains("matrix") == true, "\(complaint ?? "accepted")")
        }

        /// check-jsonschema's complaint about `file`, nil when it is valid.
        static func schemaCheck(_ file: URL, _ schema: String) throws -> String? {
            let tool = Cache.defaultRoot().appendingPathComponent("venv/bin/check-jsonschema").path
            let result = try SystemRunner().run(
                Command(tool, ["--builtin-schema", schema, file.path]), timeout: 120)
            return result.succeeded
                ? nil : (result.stdoutText + result.stderrText).suffix(800).description
        }
    }
}

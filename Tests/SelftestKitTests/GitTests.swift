import Foundation
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// Records the commands it is asked to run and answers from a script.
final class RecordingRunner: CommandRunning {
    let commands = Mutex<[Command]>([])
    let answer: @Sendable (Command) -> CommandResult

    init(
        answer: @escaping @Sendable (Command) -> CommandResult = { _ in
            CommandResult(status: 0, stdout: Data(), stderr: Data())
        }
    ) {
        self.answer = answer
    }

    func run(_ command: Command, stdin: Data?, timeout: Double) throws -> CommandResult {
        commands.withLock { $0.append(command) }
        return answer(command)
    }

    /// The git arguments after `-C DIR` and the fixed settings.
    var gitArguments: [[String]] {
        commands.withLock { $0 }.map { Array($0.arguments.dropFirst(2 + Git.settings.count)) }
    }
}

@Suite(.tags(.unit)) struct GitTests {
    static let tree = URL(fileURLWithPath: "/src/linux")

    @Test func everyCommandRunsInItsTreeWithHooksOffAndEnglishMessages() throws {
        let runner = RecordingRunner()
        try Git(Self.tree, runner: runner).checked(["status"])
        let command = try #require(runner.commands.withLock { $0.first })
        #expect(command.executable == "git")
        #expect(Array(command.arguments.prefix(2)) == ["-C", "/src/linux"])
        #expect(command.arguments.contains("core.hooksPath=/dev/null"))
        #expect(command.arguments.last == "status")
        #expect(command.environment["LC_ALL"] == "C")
    }

    @Test func typedQueriesAreTheGitCommandsTheySayTheyAre() throws {
        let runner = RecordingRunner { command in
            let text: String
            switch command.arguments.last {
            case "HEAD^{commit}": text = "1111111111111111111111111111111111111111\n"
            case "a..b": text = "2222\n3333\n"
            default: text = ""
            }
            return CommandResult(status: 0, stdout: Data(text.utf8), stderr: Data())
        }
        let git = Git(Self.tree, runner: runner)
        #expect(try git.commit("HEAD") == "1111111111111111111111111111111111111111")
        #expect(try git.commits(from: "a", to: "b") == ["2222", "3333"])
        #expect(try git.isDirty() == false)
        _ = try git.isAncestor("a", of: "b")
        #expect(
            runner.gitArguments == [
                ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
                ["rev-list", "--reverse", "--first-parent", "a..b"],
                ["status", "--porcelain", "--untracked-files=no"],
                ["merge-base", "--is-ancestor", "a", "b"],
            ])
    }

    @Test func aFailedCheckedCommandIsAnErrorWithGitsLastWords() throws {
        let runner = RecordingRunner { _ in
            CommandResult(
                status: 128, stdout: Data(),
                stderr: Data("hint: one\nfatal: not a git repository\n".utf8))
        }
        #expect {
            try Git(Self.tree, runner: runner).checked(["log"])
        } throws: { error in
            let e = error as? SelftestError
            return e?.exitCode == 3 && e?.message.hasSuffix("fatal: not a git repository") == true
                && e?.message.contains("in /src/linux") == true
        }
        #expect(try Git(Self.tree, runner: runner).commit("nope") == nil)
    }
}

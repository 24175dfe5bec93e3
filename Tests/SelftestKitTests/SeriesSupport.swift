import Foundation
import Synchronization
import Testing

@testable import SelftestKit

/// A small real git repository for the series and bisect tests: files
/// committed one change at a time, patches made by `git format-patch`.
struct ScratchRepo {
    let url: URL
    let cache: Cache
    var git: Git { Git(url) }

    static let identity = [
        "GIT_AUTHOR_NAME": "Ada Dev", "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada Dev", "GIT_COMMITTER_EMAIL": "ada@example.org",
    ]

    /// A repository with one commit (`base` holding `files`) on branch `main`.
    static func make(files: [String: String] = ["kernel/bpf/hashtab.c": "int hash;\n"]) throws
        -> ScratchRepo
    {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("selftests-series-\(getpid())-\(UUID().uuidString)")
        let repo = ScratchRepo(
            url: root.appendingPathComponent("linux"),
            cache: Cache(root: root.appendingPathComponent("cache")))
        try FileManager.default.createDirectory(at: repo.url, withIntermediateDirectories: true)
        try repo.git.checked(["init", "-q", "-b", "main"])
        try repo.commit("base", files: files, date: 1_700_000_000)
        return repo
    }

    func remove() {
        try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
    }

    /// Writes `files` and commits them; returns the commit.
    @discardableResult
    func commit(_ message: String, files: [String: String], date: Int? = nil) throws -> String {
        for (path, text) in files {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        try git.checked(["add", "-A"])
        var env = Self.identity
        let when = "@\(date ?? 1_700_000_000 + Int.random(in: 1...100_000)) +0000"
        env["GIT_AUTHOR_DATE"] = when
        env["GIT_COMMITTER_DATE"] = when
        try git.checked(["commit", "-q", "-m", message], environment: env)
        return try git.checked(["rev-parse", "HEAD"])
    }

    /// `git format-patch --cover-letter --base` of `range`, as one mbox text.
    func mbox(_ range: String, prefix: String = "PATCH bpf-next v3", cover: String? = nil)
        throws -> String
    {
        let out = url.deletingLastPathComponent().appendingPathComponent(
            "patches-\(UUID().uuidString)")
        let base = String(range.prefix { $0 != "." })
        try git.checked(
            [
                "format-patch", "-q", "--cover-letter", "--base=\(base)",
                "--subject-prefix=\(prefix)", "-o", out.path, range,
            ], environment: Self.identity)
        var text = ""
        for name in try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() {
            text += try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
        }
        try? FileManager.default.removeItem(at: out)
        if let cover { text = text.replacingOccurrences(of: "*** SUBJECT HERE ***", with: cover) }
        return text
    }

    /// Writes `text` as a file next to the repository.
    func file(_ name: String, _ text: String) throws -> URL {
        let file = url.deletingLastPathComponent().appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file
    }

    /// A scratch directory for mailsplit's output.
    func scratch() throws -> URL {
        try cache.directory("scratch-\(UUID().uuidString)")
    }
}

/// Writes a file that passes for a bzImage (the boot header's magic, and
/// sizes that add up to the file's: one setup sector, no payload), so a
/// `KernelImage` can stand for a scripted kernel.
func fakeBzImage(at url: URL, release: String = "6.12.0-test") throws {
    var data = Data(count: 0x400)
    data[0x1f1] = 1
    data.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
    data[0x20e] = 0x00
    data[0x20f] = 0x01
    data.replaceSubrange(0x300..<(0x300 + release.utf8.count), with: Array(release.utf8))
    try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: url)
}

/// A `CommitTesting` with scripted builds and outcomes: per commit, whether
/// it builds and into which kernel (by digest), and per test the outcome of
/// each attempt on that kernel (the last one repeats).
final class ScriptedTester: CommitTesting, @unchecked Sendable {
    // @unchecked: the drivers call it from one thread; `calls` is locked.
    enum Build {
        case kernel(digest: String)
        case fails(String)
    }

    let testNames: [String]
    /// The tree paths the tests are built from (the tree's test_progs).
    var testInputs: [String] = []
    /// What the results depend on besides the tree (nil: never reused).
    var reuseInputs: String?
    /// Commit → build. A commit not listed builds a kernel of its own digest.
    var builds: [String: Build] = [:]
    /// Kernel digest → test → outcome per attempt.
    var outcomes: [String: [String: [Outcome]]] = [:]
    let calls = Mutex<[String]>([])
    private let attempts = Mutex<[String: Int]>([:])

    init(tests: [String]) { self.testNames = tests }

    var runs: [String] { calls.withLock { $0.filter { $0.hasPrefix("run ") } } }
    var builtCommits: [String] {
        calls.withLock { $0.filter { $0.hasPrefix("build ") }.map { String($0.dropFirst(6)) } }
    }

    func build(tree: URL) throws -> KernelBuildResult {
        let head = try Git(tree).checked(["rev-parse", "HEAD"])
        calls.withLock { $0.append("build \(head)") }
        let log = tree.deletingLastPathComponent().appendingPathComponent("fake-build.log")
        try Data("make: scripted\n".utf8).write(to: log)
        switch builds[head] ?? .kernel(digest: head) {
        case .fails(let message):
            return .failed(
                KernelBuildFailure(
                    error: BuildError(file: "kernel/bpf/hashtab.c", line: 1, message: message),
                    log: log.path, seconds: 1, tree: tree.path, commit: head))
        case .kernel(let digest):
            return .built(
                KernelBuildProduct(
                    bzImage: digest, vmlinux: "", tree: tree.path, commit: head, dirty: false,
                    fragments: ["bpf-minimal"], configHash: "config", release: "6.12.0-test",
                    unmetOptions: [], seconds: 1, cpuSeconds: 1, steps: 10, log: log.path))
        }
    }

    func keep(_ product: KernelBuildProduct, in directory: URL) throws -> KernelUnderTest {
        let image = directory.appendingPathComponent("bzImage")
        try fakeBzImage(at: image)
        return KernelUnderTest(
            image: try KernelImage(path: image.path),
            identity: KernelIdentity(
                path: image.path, release: product.release, imageDigest: product.bzImage,
                tree: product.tree, commit: product.commit, configHash: product.configHash))
    }

    func run(kernel: KernelUnderTest, tests: [String], in directory: URL) throws -> RunReport {
        let digest = kernel.identity.imageDigest ?? ""
        calls.withLock { $0.append("run \(digest) \(tests.joined(separator: ","))") }
        var report = RunReport(
            kernel: kernel.image.path, accelerator: .tcg, startedAt: "2026-12-02T00:00:00Z",
            artifactsDirectory: directory.path)
        report.kernelIdentity = kernel.identity
        for test in tests {
            let attempt = attempts.withLock { counts -> Int in
                counts["\(digest) \(test)", default: 0] += 1
                return counts["\(digest) \(test)"]! - 1
            }
            let script = outcomes[digest]?[test] ?? [.pass]
            let outcome = script[min(attempt, script.count - 1)]
            report.records.append(
                TestRecord(
                    name: test, outcome: outcome, duration: 0.01,
                    message: outcome == .pass ? nil : "\(test): expected 0, got 4096"))
        }
        return report
    }
}

/// Records what a series or bisect told its observer.
final class SeriesRecorder: SeriesObserver {
    let lines = Mutex<[String]>([])

    func note(_ text: String) { lines.withLock { $0.append("note " + text) } }
    func started(_ step: SeriesCommit, label: String) {
        lines.withLock { $0.append("start \(label) \(step.commit.prefix(12))") }
    }
    func retrying(_ tests: [String], attempt: Int, of retries: Int) {
        lines.withLock { $0.append("retry \(attempt)/\(retries) \(tests.joined(separator: ","))") }
    }
    func finished(_ step: SeriesStep, label: String, verdict: String?) {
        lines.withLock { $0.append("finish \(label)") }
    }
}

import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Scratch left by a runner that was killed goes with the next run; a live
/// runner's scratch, and what is not scratch, stays.
@Suite(.tags(.unit)) struct ScratchTests {
    @Test func theSweepRemovesOnlyWhatADeadRunnerLeft() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A pid that ran and is gone: a child of ours, reaped.
        let gone = try deadPid()
        let names = [
            "btf-\(gone)-0A1B", "btf-\(getppid())-2C3D", "btf-\(getpid())-4E5F", "series-test-1",
            "notes",
        ]
        for name in names {
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        Scratch.sweep(dir)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(left == names.dropFirst().sorted())
    }

    @Test func aTrackedScratchIsRemovedAndForgotten() throws {
        let parent = FileManager.default.temporaryDirectory
        let dir = try Scratch.directory(in: parent, prefix: "scratch-test")
        #expect(dir.lastPathComponent.hasPrefix("scratch-test-\(getpid())-"))
        #expect(FileManager.default.fileExists(atPath: dir.path))
        Scratch.remove(dir)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    /// A pid no process has: one a short-lived child had.
    private func deadPid() throws -> pid_t {
        let child = try ChildProcess.spawn(Command("/bin/true", []))
        _ = child.wait(timeout: 10)
        return child.pid
    }
}

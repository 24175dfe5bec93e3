import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// A child starts with no signal blocked and SIGTERM at its default, even
/// when spawned from a thread that blocks it in a process that ignores it
/// (as the runner's Dispatch threads and interrupt handler do): otherwise
/// the SIGTERM that lets make delete half-written targets does nothing.
@Suite(.serialized, .tags(.unit)) struct ChildSignalTests {
    @Test func aChildCanBeStoppedBySIGTERMWhateverItsParentBlocks() throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        var blocked = sigset_t()
        sigfillset(&blocked)
        var saved = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }

        let status = try SystemRunner().run(
            Command("/bin/sh", ["-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status"]))
        let fields = Dictionary(
            uniqueKeysWithValues: status.stdoutText.split(separator: "\n").compactMap { line in
                let parts = line.split(separator: ":").map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                return parts.count == 2 ? (parts[0], UInt64(parts[1], radix: 16) ?? 0) : nil
            })
        let term: UInt64 = 1 << (UInt64(SIGTERM) - 1)
        #expect(fields["SigBlk"] == 0, "the child starts with signals blocked")
        #expect((fields["SigIgn"] ?? term) & term == 0, "the child ignores SIGTERM")

        // And so SIGTERM really stops one.
        let child = try ChildProcess.spawn(Command("/bin/sleep", ["30"]))
        defer { child.kill() }
        kill(child.pid, SIGTERM)
        #expect(child.wait(timeout: 10) == 128 + SIGTERM)
    }
}

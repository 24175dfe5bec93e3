import Foundation
import SelftestCatalog

/// The host's end of one boot's queue port: QEMU reads the FIFO `P.in`
/// (`-chardev pipe`) and passes what the host writes to the guest's
/// `selftests.queue` port, one `PlannedTest` line per test. The host hands
/// a test as the guest becomes free, and `end` when the queue is empty.
///
/// A FIFO, not a socket: QEMU opens it read-write, so neither side waits
/// for the other to connect, and the host holding it read-write never
/// gets SIGPIPE from a QEMU that died.
struct QueueFeed {
    let queue: TestQueue
    let pipe: URL
    private let fd: Int32
    /// The tests handed to this boot, in order.
    private(set) var handed: [TestSpec] = []
    private(set) var ended = false

    /// Tests handed beyond the one running: the next one is already in the
    /// guest's port when a test ends, so no poll interval of the host's
    /// passes between two tests (but for the last few, `TestQueue.next`).
    static let ahead = 1

    /// Makes the FIFOs at `pipe` (`.in`, `.out`) and opens the host's end.
    init(queue: TestQueue, pipe: URL) throws {
        self.queue = queue
        self.pipe = pipe
        for suffix in [".in", ".out"] {
            let path = pipe.path + suffix
            unlink(path)
            guard mkfifo(path, 0o600) == 0 else {
                throw SelftestError(
                    .infrastructure, "mkfifo \(path) failed: \(String(cString: strerror(errno)))")
            }
        }
        fd = open(pipe.path + ".in", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            Self.remove(pipe)
            throw SelftestError(.infrastructure, "open \(pipe.path).in failed: \(reason)")
        }
    }

    /// Hands tests until `ahead` wait beyond the `decided` ones (results the
    /// guest has given), or `end` once the queue is empty.
    mutating func feed(decided: Int) {
        while !ended && handed.count - decided <= Self.ahead {
            let ahead = handed.count > decided
            guard let test = queue.next(ahead: ahead) else {
                // Near the end, the queue keeps its last tests for guests
                // that free up first; this one asks again at its next poll.
                if !ahead { ended = write(QueuePort.endLine) }
                return
            }
            guard write(PlannedTest(test).line) else {
                // The pipe is full (64 KiB of lines the guest has not read):
                // the test waits in the queue for the next poll.
                queue.putBack([test])
                return
            }
            handed.append(test)
        }
    }

    /// A line is far shorter than PIPE_BUF, so it is written whole or not at all.
    private func write(_ line: String) -> Bool {
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            == bytes.count
    }

    /// Closes the host's end and removes the FIFOs.
    func close() {
        Foundation.close(fd)
        Self.remove(pipe)
    }

    private static func remove(_ pipe: URL) {
        unlink(pipe.path + ".in")
        unlink(pipe.path + ".out")
    }
}

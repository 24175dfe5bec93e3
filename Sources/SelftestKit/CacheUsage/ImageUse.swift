import Foundation
import Synchronization

/// A guest image held as in use: a shared `flock` on its marker
/// `.NAME.used`, whose mtime says when the image was last used (atime is
/// not to be trusted under noatime/relatime, and the image's own mtime is
/// part of the key its digest is remembered by). Pruning takes the lock
/// exclusively, so it never removes an image a run holds; many runs share
/// one image at once.
public final class ImagePin: Sendable {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    static func marker(_ image: URL) -> URL {
        image.deletingLastPathComponent().appendingPathComponent(".\(image.lastPathComponent).used")
    }

    /// Holds `image` as in use and marks it used now. Taken before the
    /// image is looked up or built, so that a prune at the same time either
    /// finishes first (the run then builds the image again) or leaves it.
    /// Nil when the marker cannot be written (a read-only cache): the run
    /// goes on, unpinned.
    public static func pin(_ image: URL) -> ImagePin? {
        let path = marker(image).path
        try? FileManager.default.createDirectory(
            at: image.deletingLastPathComponent(), withIntermediateDirectories: true)
        for _ in 0..<16 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return nil }
            // A prune holds its exclusive lock only while it unlinks.
            flock(fd, LOCK_SH)
            // The prune may have unlinked this marker while we waited: a
            // lock on a name no longer in the directory holds nothing.
            if sameFile(fd, path) {
                futimens(fd, nil)
                return ImagePin(descriptor: fd)
            }
            close(fd)
        }
        return nil
    }

    static func sameFile(_ fd: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, stat(path, &named) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }
}

/// The pins one run holds, released together when its kernel is done.
public final class ImagePins: Sendable {
    private let pins = Mutex<[ImagePin]>([])

    public init() {}

    public func keep(_ pin: ImagePin?) {
        guard let pin else { return }
        pins.withLock { $0.append(pin) }
    }

    public func release() { pins.withLock { $0.removeAll() } }
}

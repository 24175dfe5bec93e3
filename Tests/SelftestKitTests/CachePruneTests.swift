import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// A throwaway cache with images and run directories made to order.
struct CacheFixture: ~Copyable {
    let cache = Cache(
        root: FileManager.default.temporaryDirectory.appendingPathComponent(
            "cache-prune-\(UUID().uuidString)"))

    deinit { try? FileManager.default.removeItem(at: cache.root) }

    /// An image of `bytes` with its record, last used `age` seconds ago.
    func image(_ name: String, bytes: Int = 1 << 20, age: TimeInterval) throws {
        let url = try cache.directory("images").appendingPathComponent(name)
        try Cache.writeRecorded(Data(repeating: 7, count: bytes), to: url)
        let marker = ImagePin.marker(url)
        try Data().write(to: marker)
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: marker.path)
    }

    /// A run directory holding `bytes` of console log.
    func run(_ name: String, bytes: Int = 1 << 20) throws {
        let dir = try cache.directory("runs", name)
        try Data().write(
            to: dir.appendingPathComponent(".lock"))
        try Data(repeating: 1, count: bytes).write(to: dir.appendingPathComponent("console.log"))
    }

    func images() -> Set<String> {
        Set(DiskUsage.names(in: cache.entry("images").path).filter { !$0.hasPrefix(".") })
    }

    func runs() -> Set<String> {
        Set(DiskUsage.names(in: cache.entry("runs").path).filter { !$0.hasPrefix(".") })
    }
}

@Suite(.tags(.unit)) struct CachePruneTests {
    /// The least recently used go first, by the marker a run touches, not
    /// by when the image was written.
    @Test func leastRecentlyUsedImagesGoFirst() throws {
        let fixture = CacheFixture()
        try fixture.image("old.cpio", age: 4000)
        try fixture.image("older.cpio", age: 5000)
        try fixture.image("new.cpio", age: 10)
        try fixture.image("newer.cpio", age: 1)
        let result = CachePruner(cache: fixture.cache).pruneImages(max: 5 << 19)
        #expect(result.removed.map(\.name) == ["older.cpio", "old.cpio"])
        #expect(fixture.images() == ["new.cpio", "newer.cpio"])
        let left = DiskUsage.names(in: fixture.cache.entry("images").path)
        #expect(!left.contains(".old.cpio.digest") && !left.contains(".old.cpio.used"))
        #expect(result.freed >= 2 << 20)
        #expect(CachePruner(cache: fixture.cache).imagesSize() <= 5 << 19)
    }

    /// A pin (a run using the image) makes it newest and keeps it under
    /// any bound; its companions stay too.
    @Test func anImageInUseIsNeverRemoved() throws {
        let fixture = CacheFixture()
        try fixture.image("held.cpio", age: 9000)
        try fixture.image("free.cpio", age: 10)
        let url = fixture.cache.entry("images", "held.cpio")
        let pin = try #require(ImagePin.pin(url))
        let result = CachePruner(cache: fixture.cache).pruneImages(max: 0)
        #expect(result.removed.map(\.name) == ["free.cpio"])
        #expect(result.inUse == ["images/held.cpio"])
        #expect(fixture.images() == ["held.cpio"])
        #expect(Cache.exists(Cache.recordURL(url)))
        withExtendedLifetime(pin) {}
    }

    /// Once the run lets go, the image can go; a run pinning it again
    /// after a prune removed its marker gets a marker of its own.
    @Test func aReleasedImageIsRemovedAndCanBePinnedAgain() throws {
        let fixture = CacheFixture()
        try fixture.image("once.cpio", age: 100)
        let url = fixture.cache.entry("images", "once.cpio")
        var pin = ImagePin.pin(url)
        #expect(pin != nil)
        pin = nil
        #expect(CachePruner(cache: fixture.cache).pruneImages(max: 0).removed.count == 1)
        #expect(!Cache.exists(ImagePin.marker(url)))
        pin = ImagePin.pin(url)
        #expect(pin != nil && Cache.exists(ImagePin.marker(url)))
        // The run is about to build it: its marker is not an orphan to sweep.
        _ = CachePruner(cache: fixture.cache).pruneImages(max: 0)
        #expect(Cache.exists(ImagePin.marker(url)))
    }

    /// A run that pins while a prune is removing the image waits for it,
    /// then holds a marker of its own, not the unlinked one.
    @Test func aPinTakenDuringARemovalHoldsTheNewMarker() async throws {
        let fixture = CacheFixture()
        try fixture.image("raced.cpio", age: 100)
        let url = fixture.cache.entry("images", "raced.cpio")
        let marker = ImagePin.marker(url).path
        let pruning = open(marker, O_RDWR)
        #expect(flock(pruning, LOCK_EX) == 0)
        let pinned = Task.detached { ImagePin.pin(url) }
        try await Task.sleep(for: .milliseconds(200))
        unlink(url.path)
        unlink(marker)
        close(pruning)
        let pin = try #require(await pinned.value)
        #expect(ImagePin.sameFile(pin.descriptor, marker))
        #expect(CachePruner(cache: fixture.cache).pruneImages(max: 0).removed.isEmpty)
    }

    /// A dry run reports what a real one would remove and removes nothing.
    @Test func aDryRunRemovesNothing() throws {
        let fixture = CacheFixture()
        for (index, name) in ["a.cpio", "b.cpio", "c.cpio"].enumerated() {
            try fixture.image(name, age: Double(100 * index))
        }
        for index in 0..<4 { try fixture.run("2020-01-01T00000\(index)Z-1") }
        let before = try FileManager.default.subpathsOfDirectory(atPath: fixture.cache.root.path)
        let dry = CachePruner(cache: fixture.cache, dryRun: true)
        let images = dry.pruneImages(max: 3 << 19)
        let runs = dry.pruneRuns(max: nil, keep: 1)
        #expect(images.removed.count == 2 && runs.removed.count == 3)
        let after = try FileManager.default.subpathsOfDirectory(atPath: fixture.cache.root.path)
        #expect(Set(after) == Set(before))
        let real = CachePruner(cache: fixture.cache)
        #expect(real.pruneImages(max: 3 << 19).removed.map(\.name) == images.removed.map(\.name))
        #expect(real.pruneRuns(max: nil, keep: 1).removed.map(\.name) == runs.removed.map(\.name))
    }

    /// Oldest first, down to the size and the count; one a live run holds
    /// stays however old, and a run still being made (hidden) is not seen.
    @Test func runDirectoriesInUseAreNeverRemoved() throws {
        let fixture = CacheFixture()
        for index in 0..<5 { try fixture.run("2020-01-01T00000\(index)Z-1") }
        _ = try fixture.cache.directory("runs", ".new-2020-01-01T000009Z-2")
        let held = fixture.cache.entry("runs", "2020-01-01T000000Z-1", ".lock")
        let fd = open(held.path, O_RDWR)
        defer { close(fd) }
        #expect(flock(fd, LOCK_SH) == 0)

        let bySize = CachePruner(cache: fixture.cache).pruneRuns(max: 5 << 19, keep: nil)
        // The held one counts in the size: three others go to reach the bound.
        #expect(bySize.removed.map(\.name) == (1...3).map { "2020-01-01T00000\($0)Z-1" })
        #expect(bySize.inUse == ["runs/2020-01-01T000000Z-1"])
        let byCount = CachePruner(cache: fixture.cache).pruneRuns(max: nil, keep: 0)
        #expect(byCount.removed.map(\.name) == ["2020-01-01T000004Z-1"])
        #expect(fixture.runs() == ["2020-01-01T000000Z-1"])
        #expect(Cache.exists(fixture.cache.entry("runs", ".new-2020-01-01T000009Z-2")))
    }

    /// What a run killed mid-write left goes; a live writer's stays.
    @Test func halfWrittenImagesOfDeadRunsOnly() throws {
        let fixture = CacheFixture()
        let images = try fixture.cache.directory("images")
        let live = images.appendingPathComponent(".tmp-\(getpid())-x-a.cpio")
        // PIDs stop well short of 2^22 by default; this one is nobody.
        let dead = images.appendingPathComponent(".tmp-4194000-x-b.cpio")
        for url in [live, dead] { try Data(count: 4096).write(to: url) }
        let result = CachePruner(cache: fixture.cache).pruneImages(max: 1 << 30)
        #expect(result.removed.map(\.name) == [dead.lastPathComponent])
        #expect(Cache.exists(live) && !Cache.exists(dead))
    }
}

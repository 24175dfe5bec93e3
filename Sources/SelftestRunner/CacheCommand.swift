import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests cache`: what the cache holds, and `cache prune` to free it.
    struct CacheCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cache",
            abstract: "Show what the cache holds and its size, or prune it.",
            subcommands: [Show.self, Prune.self],
            defaultSubcommand: Show.self)
    }
}

/// `--cache-dir`, for both cache commands.
struct CacheLocation: ParsableArguments {
    @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
    var cacheDir: String?

    var cache: SelftestKit.Cache {
        Cache(root: cacheDir.map { URL(fileURLWithPath: $0) } ?? Cache.defaultRoot())
    }
}

extension Selftests.CacheCommand {
    /// `selftests cache [show]`: one line per area with its size on disk.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per area of the cache: size on disk, entries, what it is for.")

        @OptionGroup var location: CacheLocation

        @Flag(name: .long, help: "Print JSON instead of the table.")
        var json = false

        func run() throws {
            let cache = location.cache
            guard FileManager.default.fileExists(atPath: cache.root.path) else {
                throw SelftestError(
                    .usage, .cache, "no cache at \(cache.root.path)",
                    input: location.cacheDir.map { "--cache-dir \($0)" } ?? cache.root.path,
                    fix: "run selftests once to fill it, or pass the --cache-dir it used")
            }
            let usage = CacheUsage.measure(
                cache, imagesMax: try CachePruner.automaticImagesMax())
            if json {
                print(String(decoding: try DocumentJSON.data(usage), as: UTF8.self), terminator: "")
            } else {
                print(usage.text)
            }
        }
    }

    /// `selftests cache prune`: least recently used images and old runs go.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove least recently used images and old run directories.",
            discussion: """
                Never removes what a running selftests holds. Sizes are powers of 1024: \
                500M, 2G, 0. A run prunes images/ itself after each kernel, to \
                $SELFTESTS_IMAGES_MAX (default 2G; 'off' to keep them all).
                """)

        @OptionGroup var location: CacheLocation

        @Option(name: .long, help: "Keep images/ at most this size.")
        var imagesMax = "2G"

        @Option(name: .long, help: "Keep runs/ at most this size (default: no bound).")
        var runsMax: String?

        @Option(name: .long, help: "Keep at most this many run directories.")
        var runsKeep = String(CachePruner.defaultRunsKeep)

        @Flag(name: .long, help: "Say what would be removed; remove nothing.")
        var dryRun = false

        func run() throws {
            let images = try ByteSize.parse(imagesMax, input: "--images-max \(imagesMax)")
            let runs = try runsMax.map { try ByteSize.parse($0, input: "--runs-max \($0)") }
            guard let keep = Int(runsKeep), keep >= 0 else {
                throw SelftestError(
                    .usage, .cache, "'\(runsKeep)' is not a number of run directories",
                    input: "--runs-keep \(runsKeep)", fix: "give a count, 0 or more")
            }
            let pruner = CachePruner(cache: location.cache, dryRun: dryRun)
            var result = pruner.pruneImages(max: images)
            let fromRuns = pruner.pruneRuns(max: runs, keep: keep)
            result.removed += fromRuns.removed
            result.inUse += fromRuns.inUse
            print(Self.text(result, images: pruner.imagesSize(), dryRun: dryRun))
        }

        static func text(_ result: CachePruneResult, images: Int64, dryRun: Bool) -> String {
            var lines: [String] = []
            for entry in result.removed {
                let used = entry.lastUsed.isEmpty ? "" : ", last used \(entry.lastUsed)"
                lines.append(
                    "\(dryRun ? "would remove" : "removed") \(entry.area)/\(entry.name) "
                        + "(\(ByteSize.format(entry.bytes))\(used))")
            }
            for name in result.inUse {
                lines.append("kept \(name): in use by a running selftests")
            }
            let count = { (area: String) in result.removed.filter { $0.area == area }.count }
            lines.append(
                "\(dryRun ? "would free" : "freed") \(ByteSize.format(result.freed)) "
                    + "(\(count("images")) from images/, \(count("runs")) from runs/); "
                    + "images/ \(dryRun ? "holds" : "now holds") \(ByteSize.format(images))")
            return lines.joined(separator: "\n")
        }
    }
}

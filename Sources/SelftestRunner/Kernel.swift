import ArgumentParser
import Foundation
import SelftestKit

extension Selftests {
    /// `selftests kernel`: the kernel under test, built from a source tree.
    struct Kernel: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a kernel from a source tree, or unpack the default source.",
            subcommands: [Build.self, Source.self])
    }
}

extension Selftests.Kernel {
    /// `selftests kernel build`: configure and build a tree, incrementally.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a bzImage and vmlinux from a source tree, under the cache.",
            discussion: """
                The build directory is kept per tree and config, with ccache, so the next \
                build redoes only what changed. Exit status: 0 built; 1 it did not compile \
                (the first error is printed); 2 bad usage, a missing tool, or a config the \
                suite cannot run on.
                """)

        @Option(
            name: .long,
            help: "The kernel source tree (default: Debian's 6.12, unpacked on first use).")
        var tree: String?

        @Option(
            name: .customLong("config"),
            help: .configFragment("A config fragment on top of bpf-minimal (repeatable)."))
        var configs: [String] = []

        @Option(name: .long, help: "Parallel make jobs (default: the number of CPUs).")
        var jobs: Int?

        @Option(name: .long, help: "Seconds the build may take.")
        var buildTimeout: Double = 3 * 3600

        @Option(name: .long, help: "Write what was built (paths, commit, config hash) as JSON.")
        var json: String?

        @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
        var cacheDir: String?

        func validate() throws {
            if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
            if buildTimeout <= 0 { throw ValidationError("--build-timeout must be positive") }
        }

        func run() throws {
            InterruptHandler.install()
            let cache = Cache(
                root: cacheDir.map { URL(fileURLWithPath: $0) } ?? Cache.defaultRoot())
            let observer = TerminalBuildObserver(interactive: isatty(2) == 1)
            let treeURL: URL
            if let tree {
                treeURL = URL(fileURLWithPath: tree)
            } else {
                treeURL = try KernelSource.ensure(cache: cache, note: observer.note).tree
            }
            var request = KernelBuildRequest(tree: treeURL, configs: configs)
            if let jobs { request.jobs = jobs }
            request.timeout = buildTimeout
            let result = try KernelBuilder(request: request, cache: cache).build(observer: observer)
            switch result {
            case .built(let product):
                print(Self.summary(product))
                if let json { try DocumentJSON.data(product).write(to: URL(fileURLWithPath: json)) }
            case .failed(let failure):
                FileHandle.standardError.write(Data("selftests: \(failure.message)\n".utf8))
                if let json { try DocumentJSON.data(failure).write(to: URL(fileURLWithPath: json)) }
                throw ExitCode(1)
            }
        }

        static func summary(_ product: KernelBuildProduct) -> String {
            var commit = product.commit.map { String($0.prefix(12)) } ?? "(not a git tree)"
            if product.dirty == true { commit += " (modified)" }
            var lines = [
                "bzImage:  \(product.bzImage)",
                "vmlinux:  \(product.vmlinux)",
                "release:  \(product.release ?? "?")",
                "tree:     \(product.tree) at \(commit)",
                "config:   \(product.fragments.joined(separator: " + ")), "
                    + ".config sha256 \(product.configHash.prefix(16))",
                "time:     \(BuildStatus.duration(product.seconds)) (\(product.steps) steps, "
                    + "CPU \(BuildStatus.duration(product.cpuSeconds)))",
            ]
            if !product.unmetOptions.isEmpty {
                lines.append("not set:  " + product.unmetOptions.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// `selftests kernel source`: Debian's 6.12 source as a git tree in the cache.
    struct Source: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unpack Debian's linux-source-6.12 into the cache as a git tree; print it.",
            discussion: """
                Done once, on first use: the tarball becomes one commit, so a series \
                applies to it with `git am`. scripts/setup.sh installs the tarball.
                """)

        @Option(name: .long, help: "The source tarball.")
        var tarball = KernelSource.defaultTarball

        @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
        var cacheDir: String?

        func run() throws {
            InterruptHandler.install()
            let cache = Cache(
                root: cacheDir.map { URL(fileURLWithPath: $0) } ?? Cache.defaultRoot())
            let observer = TerminalBuildObserver(interactive: false)
            let (tree, _) = try KernelSource.ensure(
                tarball: tarball, cache: cache, note: observer.note)
            print(tree.path)
        }
    }
}

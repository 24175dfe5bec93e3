// swift-tools-version: 6.0
import PackageDescription

// The modules the guest agent is built from import neither Concurrency nor
// regexes. Swift imports both implicitly, and every implicit import becomes a
// library the agent loads: 2.8 MB of the image (libswift_Concurrency,
// libdispatch, libBlocksRuntime, libswift_StringProcessing,
// libswift_RegexParser) that every boot unpacks and maps under TCG.
let guestModule: [SwiftSetting] = [
    .unsafeFlags([
        "-Xfrontend", "-disable-implicit-concurrency-module-import",
        "-Xfrontend", "-disable-implicit-string-processing-module-import",
    ])
]

let package = Package(
    name: "selftests",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "selftests", targets: ["SelftestRunner"]),
        .executable(name: "selftests-guest", targets: ["SelftestGuest"]),
        .library(name: "SelftestKit", targets: ["SelftestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The results history: SQLite through GRDB (WAL pool, migrations).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Tests only: reads the example CI files as a CI system would.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // The `selftests` command: argument parsing only. It depends on the guest
        // agent so that `swift run selftests` builds the agent it boots.
        .executableTarget(
            name: "SelftestRunner",
            dependencies: [
                "SelftestKit",
                "SelftestGuest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The host pipeline: kernel, BTF, progs, image, VM, results, reports.
        .target(
            name: "SelftestKit",
            dependencies: ["SelftestCatalog", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The list of tests, shared by host (list, filter, verdicts) and guest.
        .target(name: "SelftestCatalog", swiftSettings: guestModule),
        // The guest agent: runs inside the VM, links libbpf, writes KTAP.
        .executableTarget(
            name: "SelftestGuest", dependencies: ["SelftestGuestKit"], swiftSettings: guestModule),
        .target(
            name: "SelftestGuestKit", dependencies: ["SelftestCatalog", "CLibbpf"],
            swiftSettings: guestModule),
        .systemLibrary(
            name: "CLibbpf",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev"])]
        ),
        // What both test targets share: the tags that say what a test needs,
        // and an observer that keeps what a run says.
        .target(
            name: "SelftestTestSupport",
            dependencies: ["SelftestKit"],
            path: "Tests/SelftestTestSupport"
        ),
        .testTarget(
            name: "SelftestKitTests",
            dependencies: [
                "SelftestKit", "SelftestCatalog", "SelftestGuestKit", "SelftestTestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SelftestKit", "SelftestCatalog", "SelftestGuest", "SelftestRunner",
                "SelftestTestSupport",
            ]
        ),
    ]
)

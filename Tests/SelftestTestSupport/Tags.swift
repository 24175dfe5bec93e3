import Testing

/// What a suite needs beyond Swift, so a machine that lacks it can leave it
/// out. Every suite carries one. Swift 6.3's `swift test --filter` and
/// `--skip` match names, not tags, so the suites that need more than Swift
/// also live under a namespace of the same name (`NeedsTools`,
/// `VirtualMachineSuites`): the README's development section gives the
/// command.
extension Tag {
    /// Needs nothing but the package: parsers, planners, reports, fakes.
    @Tag public static var unit: Self
    /// Needs what scripts/setup.sh installs: clang, bpftool, cpio, the
    /// default kernel, kcidb-io's validator.
    @Tag public static var needsTools: Self
    /// Boots the default kernel in QEMU.
    @Tag public static var vm: Self
    /// Builds a kernel (or the tree's test_progs) from source: minutes.
    @Tag public static var kernelBuild: Self
}

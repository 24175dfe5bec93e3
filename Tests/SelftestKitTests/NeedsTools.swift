import SelftestTestSupport
import Testing

/// The suites of this target that need what scripts/setup.sh installs
/// (clang, bpftool, cpio, the default kernel, kcidb-io's validator). They
/// nest here so that `swift test --skip NeedsTools` leaves them out by name:
/// `swift test` matches names, not tags.
@Suite(.tags(.needsTools)) enum NeedsTools {}

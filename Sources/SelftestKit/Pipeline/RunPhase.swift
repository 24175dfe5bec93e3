/// The phases of one kernel's run, in the order they happen, which is the
/// order the terminal lists their times in. The raw values are the keys of
/// `RunReport.phases` and of its JSON.
public enum RunPhase: String, CaseIterable, Sendable {
    case kernelBuild = "kernel-build"
    case testProgsBuild = "test-progs-build"
    case compile, image, probe, boot, tests, teardown
}

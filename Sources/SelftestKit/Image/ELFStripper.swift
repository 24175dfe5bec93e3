import Foundation

/// Copies of the agent and its libraries without what only a debugger or a
/// linker reads: the symbol table and the debug sections. They are a
/// quarter of the image (23.4 MB of ELFs become 17.8 MB) that every boot
/// loads into guest memory and unpacks under TCG. What the guest uses on a
/// crash stays: `.dynsym` (dladdr names the exported functions), the Swift
/// metadata sections and the runtime's own messages.
///
/// binutils' `strip` does this; `--strip-unneeded` keeps every symbol a
/// relocation or the dynamic linker needs.
struct ELFStripper {
    var strip: String
    var runner: CommandRunning
    var cache: Cache

    /// The stripped bytes of `path`.
    func stripped(_ path: String) throws -> Data {
        let scratch = try Scratch.directory(in: cache.entry("tmp"), prefix: "strip")
        defer { Scratch.remove(scratch) }
        let output = scratch.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
        let result = try runner.run(
            Command(strip, ["--strip-unneeded", "-o", output.path, path]), timeout: 120)
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure, .runner,
                "strip \(path) for the guest image failed: \(result.stderrText)")
        }
        return try GuestImage.read(output.path)
    }
}

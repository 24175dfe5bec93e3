import Foundation

/// The package's own directory (`progs/`, `vm/config/` live there), found
/// from this source file's location so that `swift run` works from any
/// directory.
enum PackageRoot {
    /// `Sources/SelftestKit/Support/PackageRoot.swift` is four levels down.
    static var url: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url
    }
}

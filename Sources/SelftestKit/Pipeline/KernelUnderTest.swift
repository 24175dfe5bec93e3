import Foundation

/// Which kernel a report is about: where it was, and what it was built from.
/// Two kernels with the same `imageDigest` are the same kernel, whatever
/// their path or commit.
public struct KernelIdentity: Sendable, Codable, Equatable {
    /// The bzImage that was booted (or would have been, for a failed build).
    public var path: String
    public var release: String?
    /// SHA-256 of the bzImage; nil when there is none (the build failed).
    public var imageDigest: String?
    /// The source tree it was built from; nil for a prebuilt image.
    public var tree: String?
    /// The tree's commit; nil for a prebuilt image or a tree outside git.
    public var commit: String?
    /// Whether tracked files differed from `commit` when it was built.
    public var dirty: Bool?
    /// SHA-256 of the `.config` it was built with.
    public var configHash: String?

    public init(
        path: String, release: String? = nil, imageDigest: String? = nil, tree: String? = nil,
        commit: String? = nil, dirty: Bool? = nil, configHash: String? = nil
    ) {
        self.path = path
        self.release = release
        self.imageDigest = imageDigest
        self.tree = tree
        self.commit = commit
        self.dirty = dirty
        self.configHash = configHash
    }
}

/// One kernel to test: the image QEMU boots, and its identity.
public struct KernelUnderTest: Sendable {
    public var image: KernelImage
    public var identity: KernelIdentity

    public init(image: KernelImage, identity: KernelIdentity) {
        self.image = image
        self.identity = identity
    }

    /// A prebuilt image (`--kernel`, or the default kernel).
    public static func prebuilt(_ image: KernelImage, digests: FileDigests) throws
        -> KernelUnderTest
    {
        KernelUnderTest(
            image: image,
            identity: KernelIdentity(
                path: image.path, release: image.release,
                imageDigest: try digests.digest(of: image.path)))
    }

    /// A kernel this runner built from a tree.
    public static func built(_ product: KernelBuildProduct, digests: FileDigests) throws
        -> KernelUnderTest
    {
        let image = try KernelImage(path: product.bzImage, vmlinux: product.vmlinux)
        return KernelUnderTest(
            image: image,
            identity: KernelIdentity(
                path: product.bzImage, release: product.release ?? image.release,
                imageDigest: try digests.digest(of: product.bzImage), tree: product.tree,
                commit: product.commit, dirty: product.dirty, configHash: product.configHash))
    }
}

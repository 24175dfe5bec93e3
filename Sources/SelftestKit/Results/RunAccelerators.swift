/// What ran a report's guests: nothing (a tree that did not build, a run
/// interrupted before its first boot), one accelerator, or each one the
/// shards of a merged report used. Written as before it was typed: `none`,
/// `kvm`, `tcg`, `kvm+tcg`.
public struct RunAccelerators: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Empty when no guest ran.
    public private(set) var accelerators: Set<Accelerator>

    public init(_ accelerators: Set<Accelerator>) { self.accelerators = accelerators }

    /// No guest ran.
    public static let noGuest = RunAccelerators([])
    public static let kvm = RunAccelerators([.kvm])
    public static let tcg = RunAccelerators([.tcg])

    /// Every accelerator `reports` used (a merge of shards).
    public static func union(_ all: [RunAccelerators]) -> RunAccelerators {
        RunAccelerators(all.reduce(into: []) { $0.formUnion($1.accelerators) })
    }

    public var description: String {
        accelerators.isEmpty ? "none" : accelerators.map(\.rawValue).sorted().joined(separator: "+")
    }

    /// Reads what `description` writes; `none` inside a joined value (a
    /// merge before this type) counts for nothing.
    public init?(_ text: String) {
        var found: Set<Accelerator> = []
        for part in text.split(separator: "+") where part != "none" {
            guard let accelerator = Accelerator(rawValue: String(part)) else { return nil }
            found.insert(accelerator)
        }
        accelerators = found
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = RunAccelerators(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not an accelerator: \(text)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

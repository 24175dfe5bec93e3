/// Selects tests by name with shell-style globs (`*`, `?`), several joined by commas.
///
/// `*` does not stop at `/`, so `storage/*` selects the whole storage group.
/// Tests with an `optInPrefix` are selected only by a pattern that starts
/// with it, so that `*` never runs a deliberate crash or a 1M-entry map.
public struct TestFilter: Sendable, Equatable {
    public var patterns: [String]

    public init(_ expression: String?) {
        patterns = (expression ?? "").split(separator: ",").map {
            String($0.trimming(" "))
        }.filter { !$0.isEmpty }
    }

    public func matches(_ spec: TestSpec) -> Bool {
        if patterns.isEmpty { return spec.optInPrefix == nil }
        return patterns.contains { Self.matches($0, spec) }
    }

    static func matches(_ pattern: String, _ spec: TestSpec) -> Bool {
        if let prefix = spec.optInPrefix, !pattern.hasPrefix(prefix) { return false }
        return Glob.matches(pattern, spec.name)
    }

    /// The patterns that select none of `specs`: a typo in one glob of a
    /// list must not quietly run the rest as if it were the whole request.
    public func unmatched(in specs: [TestSpec]) -> [String] {
        patterns.filter { pattern in !specs.contains { Self.matches(pattern, $0) } }
    }

    public func select(from specs: [TestSpec]) -> [TestSpec] {
        specs.filter(matches)
    }
}

/// Shell-style glob matching over whole strings.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern.utf8)[...], Array(text.utf8)[...])
    }

    private static func matches(_ p: ArraySlice<UInt8>, _ t: ArraySlice<UInt8>) -> Bool {
        guard let first = p.first else { return t.isEmpty }
        switch first {
        case UInt8(ascii: "*"):
            let rest = p.dropFirst()
            var tail = t
            while true {
                if matches(rest, tail) { return true }
                if tail.isEmpty { return false }
                tail = tail.dropFirst()
            }
        case UInt8(ascii: "?"):
            return !t.isEmpty && matches(p.dropFirst(), t.dropFirst())
        default:
            return t.first == first && matches(p.dropFirst(), t.dropFirst())
        }
    }
}

extension Substring {
    /// Without any of `characters` at its end, and at its start unless
    /// `leading` is false. (The guest has no Foundation, so no
    /// `trimmingCharacters`.)
    public func trimming(_ characters: String, leading: Bool = true) -> Substring {
        var text = self
        if leading { text = text.drop { characters.contains($0) } }
        while let last = text.last, characters.contains(last) { text = text.dropLast() }
        return text
    }
}

extension String {
    /// Without any of `characters` at its end, and at its start unless
    /// `leading` is false.
    public func trimming(_ characters: String, leading: Bool = true) -> Substring {
        self[...].trimming(characters, leading: leading)
    }
}

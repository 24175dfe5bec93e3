/// A minimal XML 1.0 writer: builds an element tree and serializes it escaped.
///
/// Values are never pasted into markup as-is: text and attribute values are
/// escaped, and characters XML 1.0 cannot carry at all (the C0 controls other
/// than tab, newline and carriage return, and U+FFFE/U+FFFF) are dropped, so a
/// kernel log full of escape sequences still yields a well-formed document.
public enum XMLWriter {
    /// One element: a name, attributes in the order given, text, then children.
    public struct Element: Sendable, Equatable {
        public var name: String
        public var attributes: [(name: String, value: String)]
        /// Character data written before the children; nil for none.
        public var text: String?
        public var children: [Element]

        public init(
            _ name: String, attributes: [(String, String)] = [], text: String? = nil,
            children: [Element] = []
        ) {
            self.name = name
            self.attributes = attributes.map { (name: $0.0, value: $0.1) }
            self.text = text
            self.children = children
        }

        /// Replaces the named attribute's value, or appends the attribute if absent.
        public mutating func setAttribute(_ name: String, _ value: String) {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                attributes[index].value = value
            } else {
                attributes.append((name: name, value: value))
            }
        }

        /// The value of the named attribute, if present.
        public func attribute(_ name: String) -> String? {
            attributes.first { $0.name == name }?.value
        }

        public static func == (a: Element, b: Element) -> Bool {
            a.name == b.name && a.text == b.text && a.children == b.children
                && a.attributes.map(\.name) == b.attributes.map(\.name)
                && a.attributes.map(\.value) == b.attributes.map(\.value)
        }
    }

    /// The XML declaration every document starts with.
    public static let declaration = #"<?xml version="1.0" encoding="UTF-8"?>"#

    /// The whole document: declaration, then `root` indented two spaces a level.
    public static func document(_ root: Element) -> String {
        declaration + "\n" + serialize(root)
    }

    /// `element` and its subtree, without a declaration.
    public static func serialize(_ element: Element) -> String {
        var out = ""
        write(element, depth: 0, into: &out)
        return out
    }

    /// Text content escaped for use between tags.
    public static func escapeText(_ value: String) -> String {
        escape(value, inAttribute: false)
    }

    /// A value escaped for use inside a double-quoted attribute.
    public static func escapeAttribute(_ value: String) -> String {
        escape(value, inAttribute: true)
    }

    /// Whether XML 1.0 allows `scalar` anywhere in a document (production `Char`).
    public static func isLegal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD: true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    private static func write(_ element: Element, depth: Int, into out: inout String) {
        let indent = String(repeating: "  ", count: depth)
        out += indent + "<" + element.name
        for attribute in element.attributes {
            out += " " + attribute.name + "=\"" + escapeAttribute(attribute.value) + "\""
        }
        let text = element.text ?? ""
        if text.isEmpty && element.children.isEmpty {
            out += "/>\n"
            return
        }
        out += ">" + escapeText(text)
        if element.children.isEmpty {
            out += "</" + element.name + ">\n"
            return
        }
        out += "\n"
        for child in element.children {
            write(child, depth: depth + 1, into: &out)
        }
        out += indent + "</" + element.name + ">\n"
    }

    private static func escape(_ value: String, inAttribute: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&apos;".unicodeScalars)
            // A parser turns a literal CR into LF, and any whitespace in an
            // attribute into a space; character references survive both.
            case "\r": out.append(contentsOf: "&#13;".unicodeScalars)
            case "\n" where inAttribute: out.append(contentsOf: "&#10;".unicodeScalars)
            case "\t" where inAttribute: out.append(contentsOf: "&#9;".unicodeScalars)
            default:
                if isLegal(scalar) { out.append(scalar) }
            }
        }
        return String(out)
    }
}

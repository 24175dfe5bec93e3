/// Encodes a flat record (numbers, Bools and strings under string keys) as
/// one line of JSON, keys in the order the record encodes them. The guest
/// has no Foundation, so no JSONEncoder; what it sends is flat.
enum FlatJSON {
    /// A value the flat encoder cannot write: nested containers, arrays.
    struct NotFlat: Error, CustomStringConvertible {
        var key: String
        var description: String { "\(key): not a number, Bool or string" }
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = FieldEncoder()
        try value.encode(to: encoder)
        if let failure = encoder.store.failure { throw failure }
        return "{" + encoder.store.fields.map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",")
            + "}"
    }

    /// JSON's string escapes: quote, backslash, and control characters.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The fields written so far, and the first value that was not flat.
    final class Store {
        var fields: [(String, String)] = []
        var failure: NotFlat?
    }

    struct FieldEncoder: Encoder {
        let store = Store()
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            KeyedEncodingContainer(Fields<Key>(store: store))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            store.failure = store.failure ?? NotFlat(key: "(top level)")
            return Refused(store: store)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            store.failure = store.failure ?? NotFlat(key: "(top level)")
            return Refused(store: store)
        }
    }

    struct Fields<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let store: Store
        var codingPath: [any CodingKey] = []

        func put(_ key: Key, _ json: String) { store.fields.append((key.stringValue, json)) }

        mutating func encodeNil(forKey key: Key) throws { put(key, "null") }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(key, "\(value)") }
        mutating func encode(_ value: String, forKey key: Key) throws { put(key, quote(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws { put(key, "\(value)") }
        mutating func encode(_ value: Int, forKey key: Key) throws { put(key, "\(value)") }

        /// The other integer types and Float come here.
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            switch value {
            case let number as any BinaryInteger: put(key, "\(number)")
            case let number as Float: put(key, "\(number)")
            default: throw NotFlat(key: key.stringValue)
            }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            store.failure = store.failure ?? NotFlat(key: key.stringValue)
            return KeyedEncodingContainer(Fields<NestedKey>(store: Store()))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            store.failure = store.failure ?? NotFlat(key: key.stringValue)
            return Refused(store: store)
        }

        mutating func superEncoder() -> any Encoder {
            store.failure = store.failure ?? NotFlat(key: "super")
            return FieldEncoder()
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder {
            store.failure = store.failure ?? NotFlat(key: key.stringValue)
            return FieldEncoder()
        }
    }

    /// What an array or a bare value gets: nothing is written, and the
    /// encoder throws once the record is done.
    struct Refused: UnkeyedEncodingContainer, SingleValueEncodingContainer {
        let store: Store
        var codingPath: [any CodingKey] = []
        var count = 0

        mutating func encodeNil() throws { throw NotFlat(key: "(array)") }
        mutating func encode<T: Encodable>(_ value: T) throws { throw NotFlat(key: "(array)") }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            KeyedEncodingContainer(Fields<NestedKey>(store: Store()))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            Refused(store: store)
        }

        mutating func superEncoder() -> any Encoder { FieldEncoder() }
    }
}

import Foundation

/// The JSON of every document this tool writes, for people and programs
/// and for its own cache (the KVM probe's answer, entry digests): sorted
/// keys, pretty-printed, slashes as they are, a newline at the end.
/// Series and bisect documents use snake_case keys (`first_bad`); their
/// types keep test names out of dictionary keys, which the key strategy
/// would rewrite.
public enum DocumentJSON {
    public static func data<T: Encodable>(_ value: T, snakeCase: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return try encoder.encode(value) + Data("\n".utf8)
    }

    public static func decode<T: Decodable>(
        _ type: T.Type, from data: Data, snakeCase: Bool = false
    ) throws -> T {
        let decoder = JSONDecoder()
        if snakeCase { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        return try decoder.decode(type, from: data)
    }
}

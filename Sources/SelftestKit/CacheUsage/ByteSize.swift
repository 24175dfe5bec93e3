import Foundation

/// A size given on the command line (`500M`, `2G`, `1.5GiB`, `0`) and a
/// size shown to the user (`1.9 GiB`). Suffixes are powers of 1024, as
/// `du -h` and QEMU read them.
public enum ByteSize {
    /// Parses `text`; `input` names the option for the error
    /// (`--images-max 5X`).
    public static func parse(_ text: String, input: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var digits = Substring(trimmed)
        var unit = ""
        while let last = digits.last, last.isLetter {
            unit = String(last) + unit
            digits = digits.dropLast()
        }
        let multipliers: [String: Double] = [
            "": 1, "B": 1, "K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40,
        ]
        var key = unit.uppercased()
        if key.hasSuffix("IB") { key = String(key.dropLast(2)) }
        if key.count == 2, key.hasSuffix("B") { key = String(key.dropLast()) }
        guard let multiplier = multipliers[key], !digits.isEmpty,
            digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let number = Double(digits), number.isFinite, number >= 0,
            number * multiplier < Double(Int64.max)
        else {
            throw SelftestError(
                .usage, .cache, "'\(text)' is not a size", input: input,
                fix: "give a size like 500M, 2G or 0 (K, M, G, T are powers of 1024)")
        }
        return Int64(number * multiplier)
    }

    /// `bytes` for a person: `12 KiB`, `25.6 MiB`, `1.9 GiB`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        return value >= 100 || value == value.rounded()
            ? "\(Int(value.rounded())) \(units[index])"
            : String(format: "%.1f %@", value, units[index])
    }
}

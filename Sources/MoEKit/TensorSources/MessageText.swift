extension String {
    /// The string quoted for an error message, control characters escaped and cut at 200
    /// characters: a name read from a hostile file must not be able to break the one-line
    /// message format or flood it.
    var quotedForMessage: String {
        var out = ""
        for (index, scalar) in unicodeScalars.enumerated() {
            if index == 200 {
                out += "…"
                break
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "'": out += "\\'"
            case "\\": out += "\\\\"
            default:
                let isControl = scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
                if isControl { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return "'" + out + "'"
    }
}

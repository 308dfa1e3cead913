/// GPT-2's reversible map from the 256 byte values to printable Unicode characters, so that any
/// byte string can be spelled with vocabulary strings: printable Latin-1 bytes map to themselves,
/// the rest (controls, space, …) to U+0100 onwards in byte order (space becomes "Ġ").
public enum ByteLevelAlphabet {
    public static let characterForByte: [Character] = {
        var printable = Set<Int>()
        printable.formUnion(33...126)
        printable.formUnion(161...172)
        printable.formUnion(174...255)
        var next = 256
        return (0..<256).map { byte in
            if printable.contains(byte) { return Character(Unicode.Scalar(UInt8(byte))) }
            defer { next += 1 }
            return Character(Unicode.Scalar(UInt32(next))!)
        }
    }()

    public static let byteForCharacter: [Character: UInt8] = {
        var map: [Character: UInt8] = [:]
        for (byte, character) in characterForByte.enumerated() { map[character] = UInt8(byte) }
        return map
    }()

    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = ""
        for byte in bytes { out.append(characterForByte[Int(byte)]) }
        return out
    }
}

/// sentencepiece's compiled normalisation rules (`precompiled_charsmap`), e.g. nmt_nfkc:
///   <trie size: UInt32 LE> <Darts-clone double-array trie: trie size bytes> <NUL-terminated outputs>
/// The trie maps an input byte string to an offset into the outputs. Normalising takes, at each
/// position, the longest input that the trie knows (see `Normalizer::NormalizePrefix`).
///
/// A Darts unit is one UInt32: bits 0–7 (and 31) the label, bit 8 "has leaf", bits 10–30 the
/// offset (shifted left by 8 more when bit 9 is set); a leaf unit's low 31 bits are its value.
/// Every array access is bounds-checked: a hostile blob ends a match, it cannot trap.
struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let outputs: [UInt8]

    init(_ blob: [UInt8]) throws {
        guard blob.count > 4 else { throw ProtobufError(reason: "precompiled_charsmap is broken (\(blob.count) bytes)") }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize + 4 <= blob.count else {
            throw ProtobufError(reason: "precompiled_charsmap trie size \(trieSize) exceeds the blob (\(blob.count) bytes)")
        }
        var units: [UInt32] = []
        units.reserveCapacity(trieSize / 4)
        for k in stride(from: 4, to: 4 + trieSize / 4 * 4, by: 4) {
            units.append(UInt32(blob[k]) | UInt32(blob[k + 1]) << 8 | UInt32(blob[k + 2]) << 16 | UInt32(blob[k + 3]) << 24)
        }
        self.units = units
        outputs = Array(blob[(4 + trieSize)...])
    }

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    private static func label(_ unit: UInt32) -> UInt32 { unit & (0x8000_0000 | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// The longest rule matching at `text[start...]`: (input length, replacement bytes), or nil.
    func longestMatch(in text: [UInt8], from start: Int) -> (length: Int, output: ArraySlice<UInt8>)? {
        guard !units.isEmpty else { return nil }
        var best: (length: Int, value: Int)?
        var id = Self.offset(units[0])
        var position = start
        while position < text.count {
            let byte = text[position]
            id ^= Int(byte)
            guard id >= 0 && id < units.count else { break }
            let unit = units[id]
            guard Self.label(unit) == UInt32(byte) else { break }
            id ^= Self.offset(unit)
            position += 1
            if Self.hasLeaf(unit) {
                guard id >= 0 && id < units.count else { break }
                best = (position - start, Self.value(units[id]))
            }
        }
        guard let best, best.value < outputs.count else { return nil }
        let end = outputs[best.value...].firstIndex(of: 0) ?? outputs.count
        return (best.length, outputs[best.value..<end])
    }
}

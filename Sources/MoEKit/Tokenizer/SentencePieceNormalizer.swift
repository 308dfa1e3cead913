/// sentencepiece's normaliser (normalizer.cc) on UTF-8 bytes:
/// 1. user-defined pieces pass through untouched; otherwise the longest charsmap rule applies
///    (no charsmap = identity);
/// 2. with `remove_extra_whitespaces`, leading and trailing spaces go and inner runs shrink to one;
/// 3. the dummy prefix "▁" goes in front (or at the end, for `treat_whitespace_as_suffix`);
/// 4. with `escape_whitespaces`, every ' ' becomes "▁".
/// Only U+0020 counts as a space here: a tab stays a tab unless the charsmap maps it to ' '.
struct SentencePieceNormalizer: Sendable {
    static let spaceSymbol: [UInt8] = Array("\u{2581}".utf8)

    let spec: SentencePieceModel.NormalizerSpec
    let charsMap: PrecompiledCharsMap?
    let userDefined: ByteTrie

    /// `treat_whitespace_as_suffix` models are refused by `SentencePieceProcessor`, so the dummy
    /// space always goes in front.
    init(spec: SentencePieceModel.NormalizerSpec, userDefined: ByteTrie) throws {
        self.spec = spec
        self.userDefined = userDefined
        charsMap = spec.precompiledCharsmap.isEmpty ? nil : try PrecompiledCharsMap(spec.precompiledCharsmap)
    }

    /// One normalisation step at `start`: the replacement bytes and how many input bytes it used.
    func prefix(_ input: [UInt8], at start: Int) -> (output: ArraySlice<UInt8>, consumed: Int) {
        let user = userDefined.longestPrefix(of: input, from: start)
        if user > 0 { return (input[start..<(start + user)], user) }
        if let rule = charsMap?.longestMatch(in: input, from: start) { return (rule.output, rule.length) }
        // Swift Strings are valid UTF-8, so the malformed-byte branch of sentencepiece never runs.
        let length = min(UTF8Length.ofCharacter(startingWith: input[start]), input.count - start)
        return (input[start..<(start + length)], length)
    }

    func normalize(_ text: String) -> [UInt8] {
        let input = Array(text.utf8)
        var position = 0
        let space: UInt8 = 0x20
        if spec.removeExtraWhitespaces {
            while position < input.count {
                let step = prefix(input, at: position)
                guard step.output.elementsEqual([space]) else { break }
                position += step.consumed
            }
        }
        guard position < input.count else { return [] }

        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3)
        let escapedSpace = spec.escapeWhitespaces ? Self.spaceSymbol : [space]
        if spec.addDummyPrefix { out += escapedSpace }
        var previousWasSpace = spec.removeExtraWhitespaces
        while position < input.count {
            let step = prefix(input, at: position)
            var piece = step.output
            if previousWasSpace { while piece.first == space { piece = piece.dropFirst() } }
            if !piece.isEmpty {
                for byte in piece {
                    if spec.escapeWhitespaces && byte == space { out += Self.spaceSymbol } else { out.append(byte) }
                }
                previousWasSpace = piece.last == space
            }
            position += step.consumed
            if !spec.removeExtraWhitespaces { previousWasSpace = false }
        }
        if spec.removeExtraWhitespaces {
            while out.count >= escapedSpace.count && out.suffix(escapedSpace.count).elementsEqual(escapedSpace) {
                out.removeLast(escapedSpace.count)
            }
        }
        return out
    }
}

/// sentencepiece's Unigram encoder (`unigram_model.cc`, `EncodeOptimized`): Viterbi over the
/// pieces that match at each character, maximising the sum of piece scores.
/// - A character no single-character piece covers gets an unknown node scored
///   `min(normal scores) − 10` (the library's kUnkPenalty).
/// - A user-defined piece scores `length_in_bytes · max(normal scores) − 0.1`, so it always wins.
/// - UNUSED pieces are skipped.
/// The arithmetic copies the library's float/double mix exactly, because near-ties are common:
/// path scores are stored as Float; a piece candidate is computed in Double (the `0.1` literal in
/// the score expression makes it a double) and compared against the stored Float before being
/// rounded; the unknown candidate is Float throughout.
struct SentencePieceUnigram: PieceSegmenter {
    let vocabulary: SentencePieceVocabulary
    let trie: ByteTrie
    let minScore: Float
    let maxScore: Float
    static let unknownPenalty: Float = 10

    init(vocabulary: SentencePieceVocabulary) {
        self.vocabulary = vocabulary
        var trie = ByteTrie()
        var minScore = Float.greatestFiniteMagnitude
        // FLT_MIN in C++ is the smallest positive normal float, not the most negative one.
        var maxScore = Float.leastNormalMagnitude
        for (id, piece) in vocabulary.pieces.enumerated() {
            switch piece.type {
            case .normal, .userDefined, .unused: trie.insert(piece.bytes, id: id)
            default: break
            }
            if piece.type == .normal {
                minScore = min(minScore, piece.score)
                maxScore = max(maxScore, piece.score)
            }
        }
        self.trie = trie
        self.minScore = minScore
        self.maxScore = maxScore
    }

    struct BestPath {
        var id = -1
        var score: Float = 0
        var start = -1
    }

    func segment(_ text: [UInt8]) -> [(range: Range<Int>, id: Int)] {
        guard !text.isEmpty else { return [] }
        let unknownScore = minScore - Self.unknownPenalty
        var best = [BestPath](repeating: BestPath(), count: text.count + 1)
        var start = 0
        while start < text.count {
            let scoreHere = best[start].score
            let characterLength = min(UTF8Length.ofCharacter(startingWith: text[start]), text.count - start)
            var hasSingleCharacter = false
            trie.forEachPrefix(of: text, from: start) { id, length in
                let piece = vocabulary.pieces[id]
                guard piece.type != .unused else { return }
                let end = start + length
                // The C++ ternary mixes double and float, so every piece candidate is a Double.
                let score = piece.type == .userDefined ? Double(Float(length) * maxScore) - 0.1 : Double(piece.score)
                let candidate = score + Double(scoreHere)
                if best[end].start == -1 || candidate > Double(best[end].score) {
                    best[end] = BestPath(id: id, score: Float(candidate), start: start)
                }
                if length == characterLength { hasSingleCharacter = true }
            }
            if !hasSingleCharacter {
                let end = start + characterLength
                let candidate = unknownScore + scoreHere
                if best[end].start == -1 || candidate > best[end].score {
                    best[end] = BestPath(id: vocabulary.unknownId, score: candidate, start: start)
                }
            }
            start += characterLength
        }
        var output: [(range: Range<Int>, id: Int)] = []
        var end = text.count
        while end > 0 {
            let node = best[end]
            // Unreachable for text split at character boundaries; guards hostile input anyway.
            guard node.start >= 0 && node.start < end else { return output.reversed() }
            output.append((node.start..<end, node.id))
            end = node.start
        }
        return output.reversed()
    }
}

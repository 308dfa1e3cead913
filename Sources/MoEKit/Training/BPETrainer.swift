/// Learns a byte-level BPE vocabulary: start from the 256 byte symbols; repeatedly merge the most
/// frequent adjacent pair (ties: the pair made of earlier symbols) inside GPT-2 pre-tokenizer
/// words, until `vocabularySize` symbols exist (special tokens come on top). Pair counts are
/// updated incrementally, touching only the words that contain the merged pair.
public struct BPETrainer {
    public let vocabularySize: Int
    public var minimumPairCount = 2

    public init(vocabularySize: Int) {
        precondition(vocabularySize >= 256)
        self.vocabularySize = vocabularySize
    }

    public struct Result {
        /// Token strings in the byte-level alphabet, ids 0…
        public var tokens: [String]
        public var merges: [(String, String)]
    }

    /// Counts pre-tokenizer words of `texts`.
    public static func wordCounts(_ texts: [String]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for text in texts { for word in ByteLevelPreTokenizer.split(text) { counts[word, default: 0] += 1 } }
        return counts
    }

    public func train(wordCounts: [String: Int], progress: (Int) -> Void = { _ in }) -> Result {
        var tokens = ByteLevelAlphabet.characterForByte.map(String.init)
        var merges: [(String, String)] = []
        let entries = wordCounts.sorted { $0.key < $1.key }
        var words: [[Int32]] = entries.map { $0.key.utf8.map { Int32($0) } }
        let frequency = entries.map(\.value)
        func key(_ a: Int32, _ b: Int32) -> Int64 { Int64(a) << 32 | Int64(b) }
        var pairCounts: [Int64: Int] = [:]
        var wordsWithPair: [Int64: Set<Int>] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let k = key(word[i], word[i + 1])
                pairCounts[k, default: 0] += frequency[w]
                wordsWithPair[k, default: []].insert(w)
            }
        }
        while tokens.count < vocabularySize {
            var best: Int64 = -1, bestCount = 0
            for (k, count) in pairCounts where count > bestCount || (count == bestCount && k < best) {
                best = k
                bestCount = count
            }
            guard bestCount >= minimumPairCount else { break }
            let (left, right) = (Int32(best >> 32), Int32(best & 0xFFFF_FFFF))
            let merged = Int32(tokens.count)
            tokens.append(tokens[Int(left)] + tokens[Int(right)])
            merges.append((tokens[Int(left)], tokens[Int(right)]))
            for w in wordsWithPair[best] ?? [] {
                let old = words[w]
                for i in 0..<(old.count - 1) {
                    let k = key(old[i], old[i + 1])
                    pairCounts[k, default: 0] -= frequency[w]
                    if pairCounts[k] == 0 { pairCounts[k] = nil }
                }
                var new: [Int32] = []
                new.reserveCapacity(old.count)
                var i = 0
                while i < old.count {
                    if i + 1 < old.count && old[i] == left && old[i + 1] == right { new.append(merged); i += 2 } else { new.append(old[i]); i += 1 }
                }
                words[w] = new
                if new.count > 1 {
                    for j in 0..<(new.count - 1) {
                        let k = key(new[j], new[j + 1])
                        pairCounts[k, default: 0] += frequency[w]
                        wordsWithPair[k, default: []].insert(w)
                    }
                }
            }
            wordsWithPair[best] = nil
            pairCounts[best] = nil
            if merges.count % 250 == 0 { progress(tokens.count) }
        }
        return Result(tokens: tokens, merges: merges)
    }
}

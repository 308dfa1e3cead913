/// Byte-pair encoding: a word starts as single symbols and the adjacent pair with the lowest
/// merge rank is merged until no ranked pair is left. Ranks are the order of `merges`.
///
/// Symbols are compared as UTF-8 bytes, not as Swift Strings: String equality is canonical
/// equivalence, which would let "e + ◌́" match a precomposed "é" token and break round trips.
public struct BPEModel: Sendable {
    public typealias Symbol = [UInt8]

    struct Pair: Hashable {
        let left: Symbol
        let right: Symbol
    }

    public let tokens: [String]
    public let merges: [(String, String)]
    let idForSymbol: [Symbol: Int]
    let ranks: [Pair: Int]

    public init(vocabulary: [String: Int], merges: [(String, String)]) {
        self.merges = merges
        var tokens = [String](repeating: "", count: (vocabulary.values.max() ?? -1) + 1)
        var ids: [Symbol: Int] = [:]
        for (token, id) in vocabulary {
            tokens[id] = token
            ids[Array(token.utf8)] = id
        }
        self.tokens = tokens
        idForSymbol = ids
        var ranks: [Pair: Int] = [:]
        for (rank, merge) in merges.enumerated() {
            let pair = Pair(left: Array(merge.0.utf8), right: Array(merge.1.utf8))
            if ranks[pair] == nil { ranks[pair] = rank }
        }
        self.ranks = ranks
    }

    public func id(of symbol: Symbol) -> Int? { idForSymbol[symbol] }

    /// The merged symbols of one word given as its initial symbols.
    public func merge(_ initial: [Symbol]) -> [Symbol] {
        var symbols = initial
        while symbols.count > 1 {
            var best = Int.max
            var bestIndex = -1
            for i in 0..<(symbols.count - 1) {
                if let rank = ranks[Pair(left: symbols[i], right: symbols[i + 1])], rank < best {
                    best = rank
                    bestIndex = i
                }
            }
            guard bestIndex >= 0 else { break }
            // Merge every non-overlapping occurrence of the best pair, left to right.
            let (left, right) = (symbols[bestIndex], symbols[bestIndex + 1])
            var merged: [Symbol] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == left && symbols[i + 1] == right {
                    merged.append(left + right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }
}

extension BPEModel {
    /// A vocabulary without merges, from raw token bytes in id order (a SentencePiece model's
    /// pieces: its own processor segments, this only serves id ↔ token lookups).
    init(tokenBytes: [[UInt8]]) {
        tokens = tokenBytes.map { String(decoding: $0, as: UTF8.self) }
        merges = []
        var ids: [Symbol: Int] = [:]
        for (id, bytes) in tokenBytes.enumerated() where ids[bytes] == nil { ids[bytes] = id }
        idForSymbol = ids
        ranks = [:]
    }
}

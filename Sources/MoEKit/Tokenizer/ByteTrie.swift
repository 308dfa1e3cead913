/// A byte-keyed trie from piece bytes to an id, walked one byte at a time so that every piece
/// that is a prefix of the remaining text is found in one pass, shortest first (what sentencepiece
/// does with its Darts double-array trie).
struct ByteTrie: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var values: [Int32] = [-1]

    init() {}

    /// Later insertions of the same key keep the first id (sentencepiece's InsertIfNotPresent).
    mutating func insert(_ key: [UInt8], id: Int) {
        var node = 0
        for byte in key {
            if let next = children[node][byte] {
                node = Int(next)
            } else {
                children.append([:])
                values.append(-1)
                children[node][byte] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if values[node] < 0 { values[node] = Int32(id) }
    }


    /// Calls `visit(id, length)` for every key that is a prefix of `text[start...]`, shortest first.
    func forEachPrefix(of text: [UInt8], from start: Int, _ visit: (Int, Int) -> Void) {
        var node = 0
        var position = start
        while position < text.count, let next = children[node][text[position]] {
            node = Int(next)
            position += 1
            if values[node] >= 0 { visit(Int(values[node]), position - start) }
        }
    }

    /// The length of the longest key that is a prefix of `text[start...]`, 0 if none.
    func longestPrefix(of text: [UInt8], from start: Int) -> Int {
        var longest = 0
        forEachPrefix(of: text, from: start) { _, length in longest = length }
        return longest
    }
}

/// UTF-8 helpers shared by the SentencePiece pieces.
enum UTF8Length {
    /// sentencepiece's OneCharLen: the length a lead byte announces (1 for stray continuations).
    static func ofCharacter(startingWith lead: UInt8) -> Int {
        switch lead {
        case 0xF0...0xFF: return 4
        case 0xE0...0xEF: return 3
        case 0xC0...0xDF: return 2
        default: return 1
        }
    }
}

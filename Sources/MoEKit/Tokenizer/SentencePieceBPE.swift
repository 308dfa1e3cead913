/// sentencepiece's BPE encoder (bpe_model.cc): start from characters (a user-defined piece is one
/// frozen symbol), then repeatedly merge the adjacent pair whose concatenation is the piece with
/// the highest score — ties to the leftmost pair — until no pair is a piece. A merge that lands on
/// an UNUSED piece is undone at the end, back into the two symbols it was made from.
struct SentencePieceBPE: PieceSegmenter {
    let vocabulary: SentencePieceVocabulary

    struct Symbol {
        var range: Range<Int>
        var previous: Int
        var next: Int
        let frozen: Bool
    }

    struct Candidate {
        let score: Float
        let left: Int
        let right: Int
        let size: Int

        /// Pops first: higher score, then smaller left index (the C++ comparator, inverted).
        func precedes(_ other: Candidate) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    func segment(_ text: [UInt8]) -> [(range: Range<Int>, id: Int)] {
        var symbols: [Symbol] = []
        var position = 0
        while position < text.count {
            let user = vocabulary.userDefined.longestPrefix(of: text, from: position)
            let length = user > 0 ? user : min(UTF8Length.ofCharacter(startingWith: text[position]), text.count - position)
            let index = symbols.count
            symbols.append(Symbol(range: position..<(position + length), previous: index - 1,
                                  next: position + length < text.count ? index + 1 : -1, frozen: user > 0))
            position += length
        }
        guard !symbols.isEmpty else { return [] }

        var agenda = BinaryHeap<Candidate> { $0.precedes($1) }
        // Merged UNUSED piece → the two symbols it was made from.
        var unmerge: [[UInt8]: (Range<Int>, Range<Int>)] = [:]
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, !symbols[left].frozen, !symbols[right].frozen else { return }
            let range = symbols[left].range.lowerBound..<symbols[right].range.upperBound
            guard let id = vocabulary.segmentableId(of: text[range]) else { return }
            agenda.push(Candidate(score: vocabulary.pieces[id].score, left: left, right: right, size: range.count))
            if vocabulary.pieces[id].type == .unused {
                unmerge[Array(text[range])] = (symbols[left].range, symbols[right].range)
            }
        }
        for i in 1..<symbols.count { consider(i - 1, i) }

        while let top = agenda.pop() {
            let (left, right) = (symbols[top.left], symbols[top.right])
            // A stale candidate: one side was merged away or grew since it was pushed.
            guard !left.range.isEmpty, !right.range.isEmpty, left.range.count + right.range.count == top.size else { continue }
            symbols[top.left].range = left.range.lowerBound..<right.range.upperBound
            symbols[top.left].next = right.next
            if right.next >= 0 { symbols[right.next].previous = top.left }
            symbols[top.right].range = right.range.upperBound..<right.range.upperBound
            consider(symbols[top.left].previous, top.left)
            consider(top.left, symbols[top.left].next)
        }

        var output: [(range: Range<Int>, id: Int)] = []
        func resegment(_ range: Range<Int>) {
            let id = vocabulary.id(of: text[range])
            if vocabulary.pieces[id].type == .unused, let (a, b) = unmerge[Array(text[range])] {
                resegment(a)
                resegment(b)
            } else {
                output.append((range, id))
            }
        }
        var index = 0
        while index != -1 {
            resegment(symbols[index].range)
            index = symbols[index].next
        }
        return output
    }
}

/// A binary heap ordered by `precedes` (the first element is the one that precedes all others).
struct BinaryHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    init(precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let (a, b) = (2 * parent + 1, 2 * parent + 2)
            var first = parent
            if a < items.count && precedes(items[a], items[first]) { first = a }
            if b < items.count && precedes(items[b], items[first]) { first = b }
            guard first != parent else { break }
            items.swapAt(parent, first)
            parent = first
        }
        return top
    }
}

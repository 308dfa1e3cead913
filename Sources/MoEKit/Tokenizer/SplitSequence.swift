/// Hugging Face's `Sequence` of `Split(Regex, Isolated)` pre-tokenizers (DeepSeek's lists), on
/// code points: each step cuts every piece the steps before it left, and its regex sees only that
/// piece — `$` and `(?!\S)` look at the piece's end, not the text's. In each piece the matches are
/// found left to right (leftmost start, then the regex's own first-alternative-wins result there);
/// every match is a piece and so is the unmatched text between matches.
///
/// A step is written as `match(start, pieceEnd)`: where the regex's match beginning exactly at
/// `start` ends, or nil when it has none there. It must fail in O(1) where it does not match, so a
/// whole step stays linear.
struct SplitSequence {
    /// Unicode general category groups, the regexes' \p{L} \p{M} \p{N} \p{P} \p{S}.
    enum Category { case letter, mark, number, punctuation, symbol, other }

    let scalars: [Unicode.Scalar]
    let categories: [Category]
    /// `\s` in Oniguruma (Hugging Face's engine) is 9–13, 0x85 and Z[slp]: exactly White_Space.
    let spaces: [Bool]
    private(set) var pieces: [Range<Int>]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        categories = scalars.map(Self.category)
        spaces = scalars.map(\.properties.isWhitespace)
        pieces = scalars.isEmpty ? [] : [0..<scalars.count]
    }

    static func category(_ scalar: Unicode.Scalar) -> Category {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: .letter
        case .nonspacingMark, .spacingMark, .enclosingMark: .mark
        case .decimalNumber, .letterNumber, .otherNumber: .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: .symbol
        default: .other
        }
    }

    static func isNewline(_ scalar: Unicode.Scalar) -> Bool { scalar == "\r" || scalar == "\n" }

    /// The first index at or after `start` (and before `end`) where `test` fails.
    static func run(from start: Int, to end: Int, while test: (Int) -> Bool) -> Int {
        var k = start
        while k < end && test(k) { k += 1 }
        return k
    }

    /// One `Split(pattern, Isolated)` step.
    mutating func isolate(_ match: (Int, Int) -> Int?) {
        var result: [Range<Int>] = []
        result.reserveCapacity(pieces.count)
        for piece in pieces {
            var unmatched = piece.lowerBound
            var i = piece.lowerBound
            while i < piece.upperBound {
                guard let end = match(i, piece.upperBound), end > i else { i += 1; continue }
                if unmatched < i { result.append(unmatched..<i) }
                result.append(i..<end)
                i = end
                unmatched = end
            }
            if unmatched < piece.upperBound { result.append(unmatched..<piece.upperBound) }
        }
        pieces = result
    }

    /// `Digits(individual_digits: true)`: every number character (Rust's `char::is_numeric`,
    /// i.e. Nd, Nl, No) a piece of its own.
    mutating func isolateDigits() {
        let categories = categories
        isolate { i, _ in categories[i] == .number ? i + 1 : nil }
    }

    /// `[\r\n]`: every carriage return and line feed a piece of its own.
    mutating func isolateNewlines() {
        let scalars = scalars
        isolate { i, _ in Self.isNewline(scalars[i]) ? i + 1 : nil }
    }

    /// `\s?[class]+` (or `[class]+` without the optional space): one optional white space, then a
    /// run of the class. A white space is never in these classes, so a space followed by anything
    /// else matches nothing.
    mutating func isolateRuns(optionalSpace: Bool, of member: (Int) -> Bool) {
        let spaces = spaces
        isolate { i, end in
            if optionalSpace && spaces[i] && i + 1 < end && member(i + 1) { return Self.run(from: i + 1, to: end, while: member) }
            return member(i) ? Self.run(from: i, to: end, while: member) : nil
        }
    }

    /// `\s+$` once every line feed is a piece of its own (Oniguruma's `$` also holds before a
    /// "\n"): the white space that ends each piece.
    mutating func isolateTrailingSpaces() {
        let spaces = spaces
        pieces = pieces.flatMap { piece -> [Range<Int>] in
            var start = piece.upperBound
            while start > piece.lowerBound && spaces[start - 1] { start -= 1 }
            return start == piece.lowerBound || start == piece.upperBound ? [piece] : [piece.lowerBound..<start, start..<piece.upperBound]
        }
    }

    var words: [String] {
        pieces.map { range in
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[range])
            return String(word)
        }
    }
}

/// The members of a regex bracket expression written as literal code points and `a-b` ranges
/// (DeepSeek's `[A-Za-zµÀ-Ö…]`, `[一-龥…]`), read from the pattern text itself so that the
/// spelling we recognise in tokenizer.json and the set we match are one string.
struct CodePointRanges: Sendable {
    /// Sorted and merged, for a binary search.
    let ranges: [ClosedRange<UInt32>]

    /// `body`: what stands between `[` and `]`, without escapes.
    init(bracketBody body: String) {
        let scalars = Array(body.unicodeScalars)
        var ranges: [ClosedRange<UInt32>] = []
        var k = 0
        while k < scalars.count {
            if k + 2 < scalars.count && scalars[k + 1] == "-" {
                ranges.append(scalars[k].value...scalars[k + 2].value)
                k += 3
            } else {
                ranges.append(scalars[k].value...scalars[k].value)
                k += 1
            }
        }
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < scalar.value { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low].contains(scalar.value)
    }
}

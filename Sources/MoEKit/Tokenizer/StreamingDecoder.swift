/// Turns a stream of token ids into text pieces without ever emitting half a UTF-8 character:
/// bytes of an unfinished character wait for the next token; bytes that can never form a
/// character become U+FFFD. SentencePiece-style decoding drops the one space prepended at encode.
public struct StreamingDecoder {
    let tokenizer: Tokenizer
    var pending: [UInt8] = []
    /// Nothing visible has been emitted yet, so a leading space may still be the encoder's own.
    var atStart = true
    /// `tokenizer.model` only: a leading "▁" was already dropped (sentencepiece drops one, or all
    /// of them while nothing else was emitted when `remove_extra_whitespaces` is on).
    var droppedLeadingSpace = false

    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    public mutating func push(_ id: Int) -> String {
        if let processor = tokenizer.processor { return pushPiece(id, processor) }
        var bytes = tokenizer.cachedBytes(of: id)
        let visible = !bytes.isEmpty
        // Hugging Face strips one leading space of the whole decoded text (decoder `Strip` /
        // Metaspace), so a special token decoded visibly in front ("<s>") keeps the space after it.
        if atStart, case .sentencePiece(let metaspace) = tokenizer.style, metaspace.prependScheme != .never {
            if bytes.first == 0x20 { bytes.removeFirst() }
        }
        if visible { atStart = false }
        pending += bytes
        let (text, used) = UTF8Prefix.decode(pending, final: false)
        pending.removeFirst(used)
        return text
    }

    /// sentencepiece's Decode, one piece at a time: a run of byte pieces is decoded as UTF-8 on
    /// its own (what is left unfinished when another piece arrives becomes U+FFFD per byte); the
    /// first "▁" of the text is dropped when the normaliser could have added it.
    mutating func pushPiece(_ id: Int, _ processor: SentencePieceProcessor) -> String {
        if processor.isByte(id) {
            pending += tokenizer.cachedBytes(of: id)
            let (text, used) = UTF8Prefix.decode(pending, final: false, replaceEachInvalidByte: true)
            pending.removeFirst(used)
            if !text.isEmpty { atStart = false }
            return text
        }
        var text = finish()
        if !text.isEmpty || droppedLeadingSpace { atStart = false }
        var bytes = tokenizer.cachedBytes(of: id)
        droppedLeadingSpace = false
        if atStart && processor.stripsLeadingSpace(id) {
            bytes.removeFirst()
            droppedLeadingSpace = !processor.model.normalizerSpec.removeExtraWhitespaces
        }
        text += String(decoding: bytes, as: UTF8.self)
        if !text.isEmpty { atStart = false }
        return text
    }

    /// Flushes what is left (an unfinished character becomes U+FFFD).
    public mutating func finish() -> String {
        let (text, _) = UTF8Prefix.decode(pending, final: true, replaceEachInvalidByte: tokenizer.processor != nil)
        pending.removeAll(keepingCapacity: true)
        return text
    }
}

/// Decodes the longest prefix of `bytes` that is complete UTF-8; invalid bytes become U+FFFD.
/// Unless `final`, a trailing incomplete (but so far valid) sequence is left unconsumed.
/// An invalid sequence becomes one U+FFFD (Rust's `from_utf8_lossy`, what Hugging Face does), or
/// one per byte with `replaceEachInvalidByte` (what sentencepiece does).
public enum UTF8Prefix {
    public static func decode(_ bytes: [UInt8], final: Bool, replaceEachInvalidByte: Bool = false) -> (String, Int) {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            let length: Int
            switch lead {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: length = 0
            }
            if length == 0 { out.append("\u{FFFD}"); i += 1; continue }
            var valid = 1
            while valid < length && i + valid < bytes.count && isContinuation(bytes[i + valid], lead: lead, position: valid) { valid += 1 }
            if valid == length {
                var value = UInt32(lead) & (length == 1 ? 0x7F : length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
                out.append(Unicode.Scalar(value)!)
                i += length
            } else if i + valid == bytes.count && !final {
                break
            } else {
                out.append("\u{FFFD}")
                i += replaceEachInvalidByte ? 1 : valid
            }
        }
        return (String(out), i)
    }

    /// Second-byte limits exclude overlong forms, surrogates and code points above U+10FFFF.
    static func isContinuation(_ byte: UInt8, lead: UInt8, position: Int) -> Bool {
        guard byte & 0xC0 == 0x80 else { return false }
        guard position == 1 else { return true }
        switch lead {
        case 0xE0: return byte >= 0xA0
        case 0xED: return byte <= 0x9F
        case 0xF0: return byte >= 0x90
        case 0xF4: return byte <= 0x8F
        default: return true
        }
    }
}

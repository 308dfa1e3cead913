/// A loaded `tokenizer.model`: normaliser + segmenter (BPE or Unigram) + the processor's own rules
/// (sentencepiece_processor.cc): an unknown piece becomes its UTF-8 bytes as `<0xNN>` pieces when
/// byte fallback is on, and otherwise runs of unknown pieces fuse into one `<unk>`.
struct SentencePieceProcessor: Sendable {
    let model: SentencePieceModel
    let vocabulary: SentencePieceVocabulary
    let normalizer: SentencePieceNormalizer
    let segmenter: any PieceSegmenter

    init(_ model: SentencePieceModel) throws {
        switch model.trainerSpec.modelType {
        case .bpe, .unigram: break
        case .word, .char: throw ProtobufError(reason: "model_type \(model.trainerSpec.modelType) is not supported")
        }
        let charsmap = model.normalizerSpec.precompiledCharsmap
        if let denormalizer = model.denormalizerSpec, !denormalizer.precompiledCharsmap.isEmpty {
            throw ProtobufError(reason: "a denormalizer ('\(denormalizer.name)') is not supported")
        }
        if model.trainerSpec.treatWhitespaceAsSuffix {
            // Decoding would have to strip a trailing "▁" at the end of the stream.
            throw ProtobufError(reason: "treat_whitespace_as_suffix is not supported")
        }
        self.model = model
        vocabulary = try SentencePieceVocabulary(model)
        do {
            normalizer = try SentencePieceNormalizer(spec: model.normalizerSpec, userDefined: vocabulary.userDefined)
        } catch {
            throw ProtobufError(reason: "normalizer '\(model.normalizerSpec.name)': \(charsmap.count)-byte charsmap is broken")
        }
        switch model.trainerSpec.modelType {
        case .bpe: segmenter = SentencePieceBPE(vocabulary: vocabulary)
        default: segmenter = SentencePieceUnigram(vocabulary: vocabulary)
        }
    }

    func encode(_ text: String) -> [Int] {
        let normalized = normalizer.normalize(text)
        var ids: [Int] = []
        var previousWasUnknown = false
        for (range, id) in segmenter.segment(normalized) {
            let unknown = id == vocabulary.unknownId
            if unknown && model.trainerSpec.byteFallback {
                ids += normalized[range].map { vocabulary.byteIds[Int($0)] ?? vocabulary.unknownId }
            } else if !(unknown && previousWasUnknown) {
                ids.append(id)
            }
            previousWasUnknown = unknown
        }
        return ids
    }

    // MARK: Decoding pieces (SentencePieceProcessor::Decode)

    func isByte(_ id: Int) -> Bool { vocabulary.type(of: id) == .byte }

    /// What piece `id` contributes to decoded text, before the start-of-text space rule:
    /// control pieces nothing, `<unk>` its surface (" ⁇ "), byte pieces their byte, others their
    /// text with "▁" as a space.
    func bytes(of id: Int) -> [UInt8] {
        guard let type = vocabulary.type(of: id) else { return Array("\u{FFFD}".utf8) }
        switch type {
        case .control: return []
        case .unknown: return Array(model.trainerSpec.unkSurface.utf8)
        case .byte: return [SentencePieceVocabulary.fallbackByte(vocabulary.pieces[id].bytes) ?? 0x3F]
        case .normal, .userDefined, .unused: return Self.unescape(vocabulary.pieces[id].bytes[...])
        }
    }

    static func unescape(_ piece: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(piece.count)
        var i = piece.startIndex
        while i < piece.endIndex {
            if piece[i...].starts(with: SentencePieceNormalizer.spaceSymbol) {
                out.append(0x20)
                i += 3
            } else {
                out.append(piece[i])
                i += 1
            }
        }
        return out
    }

    /// Whether a piece at the start of text may lose its leading "▁": only NORMAL-like pieces,
    /// and only when the normaliser could have put a space there.
    func stripsLeadingSpace(_ id: Int) -> Bool {
        guard let type = vocabulary.type(of: id), type == .normal || type == .userDefined || type == .unused else { return false }
        let spec = model.normalizerSpec
        return (spec.addDummyPrefix || spec.removeExtraWhitespaces) && vocabulary.pieces[id].bytes.starts(with: SentencePieceNormalizer.spaceSymbol)
    }
}

import Foundation

/// Writes a SentencePiece `tokenizer.model` (ModelProto) that the `sentencepiece` library loads:
/// used to build large synthetic tokenizers (a 65 536-piece BPE for benchmark checkpoints) and
/// in tests. Fields are written in schema order; proto2 defaults are written out explicitly where
/// a reader's default would differ from what we mean (model_type, the special ids).
public enum SentencePieceModelWriter {
    public static func encode(_ model: SentencePieceModel) -> [UInt8] {
        typealias F = SentencePieceModel.Field
        var out = ProtobufWriter()
        for piece in model.pieces {
            out.message(F.pieces) { p in
                p.bytesField(F.piece, piece.bytes)
                p.float(F.score, piece.score)
                p.int32(F.type, piece.type.rawValue)
            }
        }
        let trainer = model.trainerSpec
        out.message(F.trainerSpec) { t in
            t.int32(F.modelType, trainer.modelType.rawValue)
            t.int32(F.vocabSize, trainer.vocabSize)
            t.bool(F.treatWhitespaceAsSuffix, trainer.treatWhitespaceAsSuffix)
            t.bool(F.byteFallback, trainer.byteFallback)
            t.int32(F.unkId, trainer.unkId)
            t.int32(F.bosId, trainer.bosId)
            t.int32(F.eosId, trainer.eosId)
            t.int32(F.padId, trainer.padId)
            t.string(F.unkPiece, trainer.unkPiece)
            t.string(F.bosPiece, trainer.bosPiece)
            t.string(F.eosPiece, trainer.eosPiece)
            t.string(F.padPiece, trainer.padPiece)
        }
        out.message(F.normalizerSpec) { n in
            writeNormalizer(model.normalizerSpec, to: &n)
        }
        if let denormalizer = model.denormalizerSpec {
            out.message(F.denormalizerSpec) { n in writeNormalizer(denormalizer, to: &n) }
        }
        return out.bytes
    }

    static func writeNormalizer(_ spec: SentencePieceModel.NormalizerSpec, to n: inout ProtobufWriter) {
        typealias F = SentencePieceModel.Field
        n.string(F.name, spec.name)
        if !spec.precompiledCharsmap.isEmpty { n.bytesField(F.precompiledCharsmap, spec.precompiledCharsmap) }
        n.bool(F.addDummyPrefix, spec.addDummyPrefix)
        n.bool(F.removeExtraWhitespaces, spec.removeExtraWhitespaces)
        n.bool(F.escapeWhitespaces, spec.escapeWhitespaces)
    }

    /// A LLaMA-style BPE model: `<unk>` `<s>` `</s>`, then the 256 `<0xNN>` byte pieces, then
    /// `merged` pieces (best first: a piece's score is minus its rank, as the BPE trainer writes),
    /// identity normalisation with a dummy prefix and byte fallback.
    public static func llamaStyleBPE(merged: [String], userDefined: [String] = []) -> SentencePieceModel {
        var pieces: [SentencePieceModel.Piece] = [.init("<unk>", type: .unknown), .init("<s>", type: .control), .init("</s>", type: .control)]
        pieces += userDefined.map { .init($0, type: .userDefined) }
        pieces += (0..<256).map { .init(String(format: "<0x%02X>", $0), type: .byte) }
        pieces += merged.enumerated().map { .init($1, score: -Float($0)) }
        var trainer = SentencePieceModel.TrainerSpec()
        trainer.modelType = .bpe
        trainer.vocabSize = Int32(pieces.count)
        trainer.byteFallback = true
        trainer.unkId = 0
        trainer.bosId = 1
        trainer.eosId = 2
        var normalizer = SentencePieceModel.NormalizerSpec()
        normalizer.name = "identity"
        normalizer.removeExtraWhitespaces = false
        return SentencePieceModel(pieces: pieces, trainerSpec: trainer, normalizerSpec: normalizer)
    }

    public static func write(_ model: SentencePieceModel, to path: String) throws {
        try AtomicFile.write(Data(encode(model)), to: path)
    }
}

/// A SentencePiece `ModelProto` (sentencepiece_model.proto, proto2): the pieces and the two specs
/// that decide how text is normalised and segmented. Only the fields encoding and decoding depend
/// on are kept; every absent field takes its proto2 default (an absent `model_type` means UNIGRAM).
public struct SentencePieceModel: Sendable, Equatable {
    public enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public struct Piece: Sendable, Equatable {
        /// Raw UTF-8 as stored; compared as bytes, never as Swift Strings (canonical equivalence
        /// would make "e◌́" and "é" the same piece).
        public var bytes: [UInt8]
        public var score: Float = 0
        public var type: PieceType = .normal

        public init(_ piece: String, score: Float = 0, type: PieceType = .normal) {
            self.init(bytes: Array(piece.utf8), score: score, type: type)
        }

        public init(bytes: [UInt8], score: Float = 0, type: PieceType = .normal) {
            self.bytes = bytes
            self.score = score
            self.type = type
        }

        public var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    public enum ModelType: Int32, Sendable {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }

    /// TrainerSpec fields that matter after training (split_digits and friends only shape training).
    public struct TrainerSpec: Sendable, Equatable {
        public var modelType: ModelType = .unigram
        public var vocabSize: Int32 = 8000
        public var treatWhitespaceAsSuffix = false
        public var byteFallback = false
        public var unkId: Int32 = 0
        public var bosId: Int32 = 1
        public var eosId: Int32 = 2
        public var padId: Int32 = -1
        public var unkPiece = "<unk>"
        public var bosPiece = "<s>"
        public var eosPiece = "</s>"
        public var padPiece = "<pad>"
        /// What `<unk>` decodes to: " ⁇ " unless the trainer set it.
        public var unkSurface = " \u{2047} "
        public init() {}
    }

    public struct NormalizerSpec: Sendable, Equatable {
        public var name = ""
        public var precompiledCharsmap: [UInt8] = []
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true
        public init() {}
    }

    public var pieces: [Piece] = []
    public var trainerSpec = TrainerSpec()
    public var normalizerSpec = NormalizerSpec()
    /// Decoding-side rules; present only in models trained with a denormalization rule TSV.
    public var denormalizerSpec: NormalizerSpec?

    public init(pieces: [Piece] = [], trainerSpec: TrainerSpec = .init(), normalizerSpec: NormalizerSpec = .init()) {
        self.pieces = pieces
        self.trainerSpec = trainerSpec
        self.normalizerSpec = normalizerSpec
    }
}

// MARK: Parsing

extension SentencePieceModel {
    /// Field numbers from sentencepiece_model.proto.
    enum Field {
        static let pieces = 1, trainerSpec = 2, normalizerSpec = 3, denormalizerSpec = 5
        static let piece = 1, score = 2, type = 3
        static let modelType = 3, vocabSize = 4, treatWhitespaceAsSuffix = 24, byteFallback = 35
        static let unkId = 40, bosId = 41, eosId = 42, padId = 43
        static let unkSurface = 44, unkPiece = 45, bosPiece = 46, eosPiece = 47, padPiece = 48
        static let name = 1, precompiledCharsmap = 2, addDummyPrefix = 3, removeExtraWhitespaces = 4, escapeWhitespaces = 5
    }

    /// Parses `ModelProto` bytes. A repeated singular field keeps its last value and a repeated
    /// sub-message merges into the earlier one, as protobuf parsers do.
    public init(protobuf bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes)
        while !reader.isAtEnd {
            let field = try reader.field()
            switch field.number {
            case Field.pieces:
                var inner = try reader.message(field)
                pieces.append(try Self.piece(&inner))
            case Field.trainerSpec:
                var inner = try reader.message(field)
                try trainerSpec.merge(&inner)
            case Field.normalizerSpec:
                var inner = try reader.message(field)
                try normalizerSpec.merge(&inner)
            case Field.denormalizerSpec:
                var inner = try reader.message(field)
                var spec = denormalizerSpec ?? NormalizerSpec()
                try spec.merge(&inner)
                denormalizerSpec = spec
            default:
                try reader.skip(field)
            }
        }
    }

    static func piece(_ reader: inout ProtobufReader) throws -> Piece {
        var piece = Piece(bytes: [])
        while !reader.isAtEnd {
            let field = try reader.field()
            switch field.number {
            case Field.piece: piece.bytes = try reader.bytesField(field)
            case Field.score: piece.score = try reader.float(field)
            case Field.type:
                let raw = try reader.int32(field)
                guard let type = PieceType(rawValue: raw) else { throw reader.fail("unknown piece type \(raw)", at: field.position) }
                piece.type = type
            default: try reader.skip(field)
            }
        }
        return piece
    }
}

extension SentencePieceModel.TrainerSpec {
    mutating func merge(_ reader: inout ProtobufReader) throws {
        typealias F = SentencePieceModel.Field
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        while !reader.isAtEnd {
            let field = try reader.field()
            switch field.number {
            case F.modelType:
                let raw = try reader.int32(field)
                guard let type = SentencePieceModel.ModelType(rawValue: raw) else { throw reader.fail("unknown model_type \(raw)", at: field.position) }
                modelType = type
            case F.vocabSize: vocabSize = try reader.int32(field)
            case F.treatWhitespaceAsSuffix: treatWhitespaceAsSuffix = try reader.bool(field)
            case F.byteFallback: byteFallback = try reader.bool(field)
            case F.unkId: unkId = try reader.int32(field)
            case F.bosId: bosId = try reader.int32(field)
            case F.eosId: eosId = try reader.int32(field)
            case F.padId: padId = try reader.int32(field)
            case F.unkSurface: unkSurface = text(try reader.bytesField(field))
            case F.unkPiece: unkPiece = text(try reader.bytesField(field))
            case F.bosPiece: bosPiece = text(try reader.bytesField(field))
            case F.eosPiece: eosPiece = text(try reader.bytesField(field))
            case F.padPiece: padPiece = text(try reader.bytesField(field))
            default: try reader.skip(field)
            }
        }
    }
}

extension SentencePieceModel.NormalizerSpec {
    mutating func merge(_ reader: inout ProtobufReader) throws {
        typealias F = SentencePieceModel.Field
        while !reader.isAtEnd {
            let field = try reader.field()
            switch field.number {
            case F.name: name = String(decoding: try reader.bytesField(field), as: UTF8.self)
            case F.precompiledCharsmap: precompiledCharsmap = try reader.bytesField(field)
            case F.addDummyPrefix: addDummyPrefix = try reader.bool(field)
            case F.removeExtraWhitespaces: removeExtraWhitespaces = try reader.bool(field)
            case F.escapeWhitespaces: escapeWhitespaces = try reader.bool(field)
            default: try reader.skip(field)
            }
        }
    }
}

/// The piece tables of a SentencePiece model, checked the way `ModelInterface::InitializePieces`
/// checks them. NORMAL, USER_DEFINED and UNUSED pieces can be produced by segmentation; UNKNOWN,
/// CONTROL and BYTE pieces are "reserved": found by id lookups, never by matching text.
struct SentencePieceVocabulary: Sendable {
    typealias PieceType = SentencePieceModel.PieceType

    let pieces: [SentencePieceModel.Piece]
    let segmentable: [[UInt8]: Int]
    let reserved: [[UInt8]: Int]
    let unknownId: Int
    /// Ids of `<0x00>`…`<0xFF>`, all present when byte fallback is on.
    let byteIds: [Int?]
    let userDefined: ByteTrie

    init(_ model: SentencePieceModel) throws {
        pieces = model.pieces
        var segmentable: [[UInt8]: Int] = [:]
        var reserved: [[UInt8]: Int] = [:]
        var unknown: Int?
        var byteIds = [Int?](repeating: nil, count: 256)
        var userDefined = ByteTrie()
        for (id, piece) in model.pieces.enumerated() {
            func fail(_ why: String) -> ProtobufError { ProtobufError(reason: "piece \(id) \(piece.text.debugDescription): \(why)") }
            guard !piece.bytes.isEmpty else { throw fail("empty piece") }
            switch piece.type {
            case .normal, .userDefined, .unused:
                guard segmentable.updateValue(id, forKey: piece.bytes) == nil else { throw fail("is already defined") }
            case .unknown, .control, .byte:
                guard reserved.updateValue(id, forKey: piece.bytes) == nil else { throw fail("is already defined") }
            }
            switch piece.type {
            case .userDefined: userDefined.insert(piece.bytes, id: id)
            case .unknown:
                guard unknown == nil else { throw fail("a second unknown piece") }
                unknown = id
            case .byte:
                guard model.trainerSpec.byteFallback else { throw fail("byte piece although byte_fallback is false") }
                guard let byte = Self.fallbackByte(piece.bytes) else { throw fail("invalid byte piece") }
                byteIds[Int(byte)] = id
            default: break
            }
        }
        guard let unknown else { throw ProtobufError(reason: "no unknown (<unk>) piece") }
        if model.trainerSpec.byteFallback && byteIds.contains(where: { $0 == nil }) {
            throw ProtobufError(reason: "byte_fallback is true but not all 256 <0xNN> pieces exist")
        }
        self.segmentable = segmentable
        self.reserved = reserved
        unknownId = unknown
        self.byteIds = byteIds
        self.userDefined = userDefined
    }

    /// `<0x41>` → 0x41.
    static func fallbackByte(_ piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece.starts(with: Array("<0x".utf8)), piece[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: piece[3..<5], as: UTF8.self), radix: 16)
    }

    func type(of id: Int) -> PieceType? { id >= 0 && id < pieces.count ? pieces[id].type : nil }

    /// sentencepiece's PieceToId: reserved pieces first, then segmentable ones, else unknown.
    func id<C: Collection>(of bytes: C) -> Int where C.Element == UInt8 {
        let key = Array(bytes)
        return reserved[key] ?? segmentable[key] ?? unknownId
    }

    func segmentableId<C: Collection>(of bytes: C) -> Int? where C.Element == UInt8 { segmentable[Array(bytes)] }
}

/// Splits normalised text into pieces: a range of the normalised bytes and the piece id
/// (the unknown id for text no piece covers).
protocol PieceSegmenter: Sendable {
    func segment(_ normalized: [UInt8]) -> [(range: Range<Int>, id: Int)]
}

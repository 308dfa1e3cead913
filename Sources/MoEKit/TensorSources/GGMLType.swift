/// A ggml tensor type as a GGUF tensor info names it (`uint32 type`): its block of
/// `blockSize` elements takes `typeSize` bytes. The table is ggml's (checked against the `gguf`
/// PyPI package's `GGML_QUANT_SIZES`, 0.19.0), so a file's byte ranges can be validated for every
/// type, even those moepp cannot compute with yet; ids missing here (4, 5, 31–33, 36–38 were
/// removed from ggml) are unknown and refused.
public struct GGMLType: Sendable, Equatable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    public let blockSize: Int
    public let typeSize: Int

    public var description: String { "\(name) (type \(id))" }

    static let known: [UInt32: GGMLType] = {
        let table: [(UInt32, String, Int, Int)] = [
            (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20), (6, "Q5_0", 32, 22),
            (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (9, "Q8_1", 32, 40), (10, "Q2_K", 256, 84), (11, "Q3_K", 256, 110),
            (12, "Q4_K", 256, 144), (13, "Q5_K", 256, 176), (14, "Q6_K", 256, 210), (15, "Q8_K", 256, 292),
            (16, "IQ2_XXS", 256, 66), (17, "IQ2_XS", 256, 74), (18, "IQ3_XXS", 256, 98), (19, "IQ1_S", 256, 50),
            (20, "IQ4_NL", 32, 18), (21, "IQ3_S", 256, 110), (22, "IQ2_S", 256, 82), (23, "IQ4_XS", 256, 136),
            (24, "I8", 1, 1), (25, "I16", 1, 2), (26, "I32", 1, 4), (27, "I64", 1, 8), (28, "F64", 1, 8),
            (29, "IQ1_M", 256, 56), (30, "BF16", 1, 2), (34, "TQ1_0", 256, 54), (35, "TQ2_0", 256, 66),
            (39, "MXFP4", 32, 17), (40, "NVFP4", 64, 36), (41, "Q1_0", 128, 18),
        ]
        return Dictionary(uniqueKeysWithValues: table.map { ($0.0, GGMLType(id: $0.0, name: $0.1, blockSize: $0.2, typeSize: $0.3)) })
    }()

    public init?(id: UInt32) {
        guard let type = Self.known[id] else { return nil }
        self = type
    }

    private init(id: UInt32, name: String, blockSize: Int, typeSize: Int) {
        self.id = id
        self.name = name
        self.blockSize = blockSize
        self.typeSize = typeSize
    }

    /// The weight format moepp computes this type with: the `WeightFormat` case spelled like the
    /// ggml type (upper case: "F16", "Q8_0", …) whose block geometry agrees with ggml's. Block
    /// formats join by being added to `WeightFormat` under ggml's name; until then (and for
    /// integer and other types moepp has no kernels for) nil, and the file is refused.
    public var weightFormat: WeightFormat? {
        WeightFormat.allCases.first {
            $0.rawValue.uppercased() == name && $0.elementsPerBlock == blockSize && $0.bytesPerBlock == typeSize
        }
    }

    /// Bytes of `elements` elements (a whole number of blocks; the caller checks), or nil on overflow.
    func byteCount(elements: Int) -> Int? {
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }
}

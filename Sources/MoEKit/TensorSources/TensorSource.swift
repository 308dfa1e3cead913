/// One tensor inside a mapped file: where its bytes are and what they mean. Every tensor source
/// (safetensors, PyTorch `.bin`, GGUF) hands these out; the expert store reads an expert's bytes
/// again from `file` at `offset`, so offloading works for every source alike.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let format: WeightFormat
    /// PyTorch order: `shape.last` is the contiguous row length.
    public let shape: [Int]
    public let base: UnsafeRawPointer
    public let file: MappedFile

    public init(name: String, format: WeightFormat, shape: [Int], base: UnsafeRawPointer, file: MappedFile) {
        self.name = name
        self.format = format
        self.shape = shape
        self.base = base
        self.file = file
    }

    public var elementCount: Int { shape.reduce(1, *) }
    /// Byte offset of the first element within `file`.
    public var offset: Int { base - file.base }
    /// Bytes between the starts of consecutive rows (`shape.last` elements each).
    public var rowBytes: Int { format.bytesPerRow(shape.last ?? 1) }
    public var byteCount: Int { format.byteCount(shape: shape) }

    /// Widens every element to f32 (norm weights, small vectors; never whole matrices in the hot path).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialised in
            convertToFloat(base, format, count: elementCount, into: buffer.baseAddress!)
            initialised = elementCount
        }
    }
}

/// A checkpoint file mapped into memory whose tensors are viewed in place. One conformance per
/// on-disk format; `CheckpointWeights` gathers the files of a model directory.
public protocol TensorSource: AnyObject, Sendable {
    var file: MappedFile { get }
    var tensors: [String: TensorView] { get }
}

extension TensorSource {
    public var path: String { file.path }
}

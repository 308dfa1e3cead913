import CQuantKernels
import Foundation

/// The slow tier (adapmoe-spec "Setting"): FFN experts read from the checkpoint files with
/// `pread`, never through the mapping, so that an expert costs real reads from the page cache or
/// the disk. Each expert is its gate, up and down matrices; a slot holds them back to back.
public final class ExpertStore: @unchecked Sendable {
    /// Where one matrix of an expert lies in a checkpoint file.
    struct Segment {
        var file: Int
        var offset: Int
        var byteCount: Int
        var rows: Int
        var cols: Int
        var format: WeightFormat
        /// Interleaved into rows8 groups in the slot after each read (a rows8 format, whole groups of rows).
        var rows8: Bool
    }

    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): reading an expert failed: \(reason)" }
    }

    public let layers: Int
    public let expertsPerLayer: Int
    /// Bytes of the largest expert: the size of one cache slot.
    public let slotBytes: Int
    let paths: [String]
    private let descriptors: [Int32]
    /// [layer][expert] → gate, up, down.
    let segments: [[[Segment]]]
    /// When true, each read drops the pages it read from the page cache, so that every miss
    /// goes to the device again (an offload setting where the slow tier stays slow).
    public var uncachedReads = false

    public init(model: Transformer) throws {
        let files = model.weights.files
        paths = files.map(\.path)
        var descriptors: [Int32] = []
        for path in paths {
            let descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else {
                descriptors.forEach { close($0) }
                throw CheckpointError(file: path, "cannot open for expert reads: \(String(cString: strerror(errno)))")
            }
            descriptors.append(descriptor)
        }
        self.descriptors = descriptors
        // Any tensor source works: a matrix knows the mapped file it views and where in it.
        func segment(_ matrix: WeightMatrix) throws -> Segment {
            guard let mapped = matrix.mappedFile, let file = files.firstIndex(where: { $0 === mapped }) else {
                let why = matrix.layout == .rows8 ? "were interleaved into memory at load (load with RowInterleaving.allButRoutedExperts)"
                    : "are not viewed in a checkpoint file"
                throw CheckpointError(file: model.weights.directory, "an expert's weights \(why); cannot offload")
            }
            // Slots get the layout the load gave the rest of the model (the cache's experts stay
            // row-major in the model itself: it reads them from the file).
            let rows8 = model.weights.interleaving.interleaves(matrix, routedExpert: false)
            return Segment(file: file, offset: matrix.base - mapped.base, byteCount: matrix.byteCount,
                           rows: matrix.rows, cols: matrix.cols, format: matrix.format, rows8: rows8)
        }
        do {
            segments = try model.blocks.map { block in
                // A dense layer has no routed experts to offload (its FFN stays mapped, like shared experts).
                try (block.moe?.ffnExperts ?? []).map { [try segment($0.gate), try segment($0.up), try segment($0.down)] }
            }
        } catch {
            descriptors.forEach { close($0) }
            throw error
        }
        layers = segments.count
        expertsPerLayer = segments.map(\.count).max() ?? 0
        slotBytes = segments.flatMap { $0 }.map { $0.reduce(0) { $0 + Self.aligned($1.byteCount) } }.max() ?? 0
    }

    deinit { descriptors.forEach { close($0) } }

    /// Matrices start on 64-byte boundaries inside a slot (the SIMD kernels' natural alignment).
    static func aligned(_ bytes: Int) -> Int { (bytes + 63) & ~63 }

    public func byteCount(layer: Int, expert: Int) -> Int { segments[layer][expert].reduce(0) { $0 + $1.byteCount } }

    /// Reads expert `expert` of `layer` into `slot` (at least `slotBytes`); returns the bytes read.
    func read(layer: Int, expert: Int, into slot: UnsafeMutableRawPointer) throws -> Int {
        var position = 0, total = 0
        for segment in segments[layer][expert] {
            var done = 0
            while done < segment.byteCount {
                let count = pread(descriptors[segment.file], slot + position + done, segment.byteCount - done, off_t(segment.offset + done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    throw ReadError(path: paths[segment.file], reason: count == 0 ? "file ends early" : String(cString: strerror(errno)))
                }
                done += count
            }
            if uncachedReads {
                _ = posix_fadvise(descriptors[segment.file], off_t(segment.offset), off_t(segment.byteCount), Int32(POSIX_FADV_DONTNEED))
            }
            if segment.rows8 { Self.interleaveInPlace(slot + position, segment) }
            position += Self.aligned(segment.byteCount)
            total += segment.byteCount
        }
        return total
    }

    /// Rewrites a row-major matrix of a rows8 format in `bytes` into rows8 groups where it lies, a
    /// group at a time through a copy (every group is the same bytes either way).
    static func interleaveInPlace(_ bytes: UnsafeMutableRawPointer, _ segment: Segment) {
        let rowBytes = segment.format.bytesPerRow(segment.cols), groupBytes = 8 * rowBytes
        let rowMajor = UnsafeMutableRawPointer.allocate(byteCount: groupBytes, alignment: 64)
        defer { rowMajor.deallocate() }
        for group in 0..<segment.rows / 8 {
            rowMajor.copyMemory(from: bytes + group * groupBytes, byteCount: groupBytes)
            WeightMatrix.packRows8(segment.format, rowMajor, rowBytes: rowBytes, cols: segment.cols, into: bytes + group * groupBytes)
        }
    }

    /// The expert as matrices over a slot that `read` filled.
    func expert(layer: Int, expert: Int, slot: UnsafeRawPointer, owner: AnyObject) -> FFNExpert {
        var position = 0
        let matrices = segments[layer][expert].map { segment -> WeightMatrix in
            defer { position += Self.aligned(segment.byteCount) }
            return WeightMatrix(rows: segment.rows, cols: segment.cols, format: segment.format, base: slot + position, owner: owner,
                                layout: segment.rows8 ? .rows8 : .rowMajor)
        }
        return FFNExpert(gate: matrices[0], up: matrices[1], down: matrices[2])
    }

    /// Byte ranges of every expert in file `file`: what a warm-up of the resident weights skips.
    func expertRanges(file: Int) -> [Range<Int>] {
        segments.flatMap { $0 }.flatMap { $0 }.filter { $0.file == file }.map { $0.offset..<$0.offset + $0.byteCount }
    }

    /// Drops the checkpoint's pages from the page cache (`POSIX_FADV_DONTNEED`), for cold-start
    /// measurements. Pages mapped by a live process stay; experts are never mapped while cached.
    public static func dropPageCache(directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasSuffix(".safetensors") || name.hasSuffix(".bin") || name.hasSuffix(".gguf") {
            let descriptor = open((directory as NSString).appendingPathComponent(name), O_RDONLY)
            guard descriptor >= 0 else { continue }
            _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(descriptor)
        }
    }
}

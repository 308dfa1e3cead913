import CQuantKernels
import Foundation
import Synchronization

/// How a matrix's rows lie in its bytes.
public enum RowLayout: Sendable, Equatable {
    /// Row r at `base + r·rowBytes`, as every file stores it.
    case rowMajor
    /// The formats of `WeightMatrix.rows8Formats` only: groups of eight rows interleaved for the
    /// AVX-512 VNNI kernels (and Q4_K's AVX2 one), each group the same bytes the eight rows take row-major (layouts in
    /// Sources/CQuantKernels/include/q{80,40,4k,6k}_rows8.h; Q5_K's in q4k_rows8.h).
    case rows8
}

/// Which matrices of `WeightMatrix.rows8Formats` a model load rewrites into `RowLayout.rows8`
/// (llama.cpp's load-time "repacking", in layouts of ours). Why: the one-row VNNI matvec is compute-bound
/// (~18 GB/s on one Zen 4 core, from memory or L2); on rows8 groups the same products ran at
/// 30 GB/s from memory on one core and 59 against 34 on two (BENCHMARKS.md, "Q4_K in eight-row
/// groups"). The copy goes to anonymous memory in 2 MiB pages; the file's pages it was read from
/// are dropped from the process (the page cache keeps them).
public enum RowInterleaving: UInt8, Sendable {
    /// Every matrix as stored (`--row-major`; without AVX-512 VNNI, every format but `rows8AVX2Formats`).
    case off = 0
    /// Everything but the routed experts, which an expert cache reads from the file itself.
    case allButRoutedExperts = 1
    /// Every matrix of those formats with a multiple of eight rows.
    case all = 2

    private static let setting = Atomic<UInt8>(RowInterleaving.all.rawValue)

    /// The process-wide default a `CheckpointWeights` starts with (`all` unless set).
    public static var current: RowInterleaving { RowInterleaving(rawValue: setting.load(ordering: .relaxed)) ?? .off }

    /// Sets the default for loads that start after this (the CLI, once, before loading).
    public static func set(_ value: RowInterleaving) { setting.store(value.rawValue, ordering: .relaxed) }

    /// Whether this setting interleaves `matrix` (a routed expert's or not): one that can be
    /// (`canInterleaveRows8`), and only where the CPU has a fast kernel for its format's layout
    /// (`WeightMatrix.rows8Runs`): elsewhere the portable twin would be all that reads it, slower
    /// than the row-major AVX2 body.
    func interleaves(_ matrix: WeightMatrix, routedExpert: Bool) -> Bool {
        matrix.canInterleaveRows8 && WeightMatrix.rows8Runs(matrix.format)
            && (self == .all || (self == .allButRoutedExperts && !routedExpert))
    }

    /// This setting for a load whose routed experts an expert cache reads from the file.
    public var sparingRoutedExperts: RowInterleaving { self == .off ? .off : .allButRoutedExperts }
}

extension CheckpointWeights {
    /// What the load did with the rows8 layout, in a line (`moepp inspect`).
    public var layoutSummary: String {
        if interleavedMatrices > 0 {
            return "\(interleavedMatrices) matrices (\(String(format: "%.1f", Double(interleavedBytes) / 1e6)) MB) in eight-row groups "
                + (QuantizedKernels.hasVNNI ? "for the AVX-512 VNNI kernels" : "for the AVX2 kernels") + ", a copy in memory"
                + (matricesPastBudget > 0 ? "; \(matricesPastBudget) more kept as stored, past the memory available" : "")
        }
        if matricesPastBudget > 0 { return "as stored: the memory available does not hold an interleaved copy" }
        if !QuantizedKernels.hasVNNI && WeightMatrix.rows8AVX2Formats.isEmpty {
            return "as stored (this CPU has no AVX-512 VNNI for the eight-row kernels)"
        }
        if interleaving == .off { return "as stored (interleaving turned off)" }
        let formats = WeightMatrix.rows8Formats.filter(WeightMatrix.rows8Runs)
        return "as stored (no " + formats.map(\.name).joined(separator: "/") + " matrix of whole eight-row groups"
            + (QuantizedKernels.hasVNNI ? ")" : "; the other formats' eight-row kernels need AVX-512 VNNI)")
    }
}

extension WeightMatrix {
    /// Whether `interleavedRows8()` applies: a row-major matrix of `rows8Formats` in whole eight-row groups.
    public var canInterleaveRows8: Bool { Self.hasRows8Layout(format) && layout == .rowMajor && rows > 0 && rows % 8 == 0 }

    /// The formats with a rows8 layout and kernels.
    public static let rows8Formats: [WeightFormat] = [.q8_0, .q4_0, .q4_k, .q5_k, .q6_k]
    static func hasRows8Layout(_ format: WeightFormat) -> Bool { rows8Formats.contains(format) }

    /// The rows8 formats with an AVX2 body too (CPUs without AVX-512 VNNI; x86-64 only).
    #if arch(x86_64)
    public static let rows8AVX2Formats: [WeightFormat] = [.q4_k]
    #else
    public static let rows8AVX2Formats: [WeightFormat] = []
    #endif

    /// Whether this CPU has a kernel that reads `format`'s rows8 layout faster than the row-major
    /// one (VNNI: every rows8 format; AVX2: `rows8AVX2Formats`).
    public static func rows8Runs(_ format: WeightFormat) -> Bool {
        hasRows8Layout(format) && (QuantizedKernels.hasVNNI || rows8AVX2Formats.contains(format))
    }

    typealias Rows8Repack = @convention(c) (UnsafeRawPointer?, Int, Int32, UnsafeMutableRawPointer?) -> Void

    /// A rows8 format's packer (eight row-major rows → one group) and unpacker (the reverse).
    static func rows8Repackers(_ format: WeightFormat) -> (pack: Rows8Repack, unpack: Rows8Repack) {
        switch format {
        case .q8_0: (moe_q80_rows8_pack, moe_q80_rows8_unpack)
        case .q4_0: (moe_q40_rows8_pack, moe_q40_rows8_unpack)
        case .q4_k: (moe_q4k_rows8_pack, moe_q4k_rows8_unpack)
        case .q5_k: (moe_q5k_rows8_pack, moe_q5k_rows8_unpack)
        case .q6_k: (moe_q6k_rows8_pack, moe_q6k_rows8_unpack)
        default: preconditionFailure("\(format.name) has no rows8 layout")
        }
    }

    /// Packs eight row-major rows of `format` (`rowBytes` apart, `cols` wide) into one rows8 group.
    static func packRows8(_ format: WeightFormat, _ source: UnsafeRawPointer, rowBytes: Int, cols: Int, into group: UnsafeMutableRawPointer) {
        rows8Repackers(format).pack(source, rowBytes, Int32(cols), group)
    }

    /// This matrix rewritten into rows8 groups, in memory from `arena` (huge pages). Groups are
    /// independent: the rewrite is split across cores. Mapped file pages it read are dropped from
    /// the process. nil when the memory cannot be had.
    public func interleavedRows8(in arena: HugePageArena) -> WeightMatrix? {
        precondition(canInterleaveRows8, "only a row-major matrix of a rows8 format in whole eight-row groups can be interleaved")
        guard let (pointer, owner) = arena.allocate(byteCount) else { return nil }
        let (groupBytes, cols, source, format) = (8 * rowBytes, cols, base, format)
        Parallel.forChunks(rows / 8, work: byteCount) { groups in
            for g in groups { Self.packRows8(format, source + g * groupBytes, rowBytes: rowBytes, cols: cols, into: pointer + g * groupBytes) }
        }
        if let file = mappedFile { file.dropPages(offset: base - file.base, count: byteCount) }
        return WeightMatrix(rows: rows, cols: cols, format: format, base: UnsafeRawPointer(pointer), owner: owner, layout: .rows8)
    }

    /// Rows [first, first + count) of a rows8 matrix, row-major, into `out` (count·rowBytes
    /// bytes): whole groups are unpacked into `groupScratch` (8·rowBytes bytes) and the rows copied.
    func copyRowMajorBytes(rows range: Range<Int>, into out: UnsafeMutableRawPointer, groupScratch: UnsafeMutableRawPointer) {
        let unpack = Self.rows8Repackers(format).unpack
        var row = range.lowerBound
        while row < range.upperBound {
            let group = row / 8
            unpack(base + group * 8 * rowBytes, rowBytes, Int32(cols), groupScratch)
            let end = min(range.upperBound, group * 8 + 8)
            (out + (row - range.lowerBound) * rowBytes).copyMemory(from: groupScratch + (row - group * 8) * rowBytes, byteCount: (end - row) * rowBytes)
            row = end
        }
    }
}

/// Anonymous memory for the rows8 copies, handed out from chunks mapped on 2 MiB boundaries and
/// advised for transparent huge pages: a decode step streams every matrix once, and in 4 KiB
/// pages it would pay a page walk per 4 KiB. One mapping per matrix was not enough: matrices of a
/// few MiB got huge pages for only about half their bytes (measured: 311 of 601 MB).
public final class HugePageArena: @unchecked Sendable {
    static let hugePage = 2 << 20
    static let chunkBytes = 64 << 20
    private var current: Chunk?
    private var used = 0

    public init() {}

    /// One mapping; the WeightMatrix views of its pieces keep it alive.
    final class Chunk: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let count: Int

        init?(count: Int) {
            // Over-map by one huge page, then trim the head and tail to 2 MiB boundaries.
            let total = count + HugePageArena.hugePage
            guard let mapped = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else { return nil }
            let address = Int(bitPattern: mapped)
            let aligned = (address + HugePageArena.hugePage - 1) & ~(HugePageArena.hugePage - 1)
            if aligned > address { munmap(mapped, aligned - address) }
            let tail = address + total - (aligned + count)
            if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + count), tail) }
            pointer = UnsafeMutableRawPointer(bitPattern: aligned)!
            self.count = count
            _ = madvise(pointer, count, Int32(MADV_HUGEPAGE))
        }

        deinit { munmap(pointer, count) }
    }

    /// MemAvailable from /proc/meminfo, in bytes (nil where there is none).
    static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }

    /// `bytes` (64-byte aligned) and the object that owns them; nil when memory cannot be had.
    func allocate(_ bytes: Int) -> (pointer: UnsafeMutableRawPointer, owner: AnyObject)? {
        let size = (max(1, bytes) + 63) & ~63
        if let chunk = current, used + size <= chunk.count {
            defer { used += size }
            return (chunk.pointer + used, chunk)
        }
        let hugePage = Self.hugePage
        guard let chunk = Chunk(count: max(Self.chunkBytes, (size + hugePage - 1) / hugePage * hugePage)) else { return nil }
        // A piece as large as a chunk gets its own; the open chunk keeps serving smaller ones.
        if size >= Self.chunkBytes && current != nil { return (chunk.pointer, chunk) }
        current = chunk
        used = size
        return (chunk.pointer, chunk)
    }
}

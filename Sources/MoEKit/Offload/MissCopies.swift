import Foundation

/// HOBBIT-style mixed-precision cache misses: a low-precision copy (Q8_0 or Q4_0) of every
/// expert in the layers allowed to use one, quantised once when the cache is set up and held in
/// memory beside the slots. On a miss in such a layer the token's expert is computed from the
/// copy at once, while the full-precision expert loads in the background for later tokens.
///
/// Which layers: those whose calibrated sensitivity F_l (`Calibration.Layer.sensitivity`) is
/// strictly below the median of all layers' F. Half the layers at most, and the half where,
/// at the same weight error, AdapMoE's estimate ΔL ≈ ½·F_l·‖Δ‖² is smallest.
public final class MissCopies: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let format: WeightFormat
    /// Layers served from a copy on a miss, ascending.
    public let layers: [Int]
    /// [layer][expert]; empty for a layer that waits for full-precision reads.
    private let copies: [[FFNExpert]]
    /// Heap bytes of all copies (their quantised size).
    public let byteCount: Int

    /// Layers with F_l below the median F (see the type's comment).
    public static func allowedLayers(sensitivities: [Double]) -> [Int] {
        guard !sensitivities.isEmpty else { return [] }
        let median = Statistics.median(sensitivities)
        return sensitivities.indices.filter { sensitivities[$0] < median }
    }

    /// Quantises `layers`' experts of `store` to `format`. The full-precision bytes are read
    /// with `pread` and dropped from the page cache after, so that setting up copies does not
    /// warm the page cache for the misses a benchmark then measures.
    public init(store: ExpertStore, format: WeightFormat, layers: [Int]) throws {
        guard format == .q8_0 || format == .q4_0 else { throw Failure(description: "--miss-format: expected q8_0 or q4_0, found \(format.name)") }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, store.slotBytes), alignment: 64)
        defer { scratch.deallocate() }
        let uncached = store.uncachedReads
        store.uncachedReads = true
        defer { store.uncachedReads = uncached }
        var copies = [[FFNExpert]](repeating: [], count: store.layers)
        var bytes = 0
        for l in layers {
            for e in 0..<store.segments[l].count {
                _ = try store.read(layer: l, expert: e, into: scratch)
                let full = store.expert(layer: l, expert: e, slot: scratch, owner: store)
                for matrix in [full.gate, full.up, full.down] where !format.canHoldRow(of: matrix.cols) {
                    throw Failure(description: "--miss-format \(format.name): layer \(l) has \(matrix.cols)-wide rows, not whole \(format.elementsPerBlock)-element blocks")
                }
                let copy = FFNExpert(gate: full.gate.quantized(to: format), up: full.up.quantized(to: format), down: full.down.quantized(to: format))
                copies[l].append(copy)
                bytes += copy.byteCount
            }
        }
        self.format = format
        self.layers = layers
        self.copies = copies
        byteCount = bytes
    }

    /// The copy of `expert` in `layer`, or nil when the layer is not allowed one.
    func expert(layer: Int, expert: Int) -> FFNExpert? {
        copies[layer].isEmpty ? nil : copies[layer][expert]
    }
}

import Foundation

/// AdapMoE's sensitivity-based adaptive gating (adapmoe-spec §1). Per layer l a threshold t_l:
/// when the smaller of the two chosen weights is below t_l, that slot is dropped and the other
/// expert takes weight 1. Dropping slot 2 moves the layer output by Δ = w₂·(E₁(x) − E₂(x)), and
/// with the layer's Fisher sensitivity F_l the loss moves by ΔL ≈ ½·F_l·‖Δ‖². Accepting a loss
/// increase of at most ε per token per layer gives
///   t_l = √(2ε / (F_l · D_l)),   D_l = E‖E₁(x) − E₂(x)‖²  (both measured by `moepp calibrate`).
/// Sensitive (usually early) layers get small thresholds; ε is the one user knob.
///
/// Top-k other than 2 (the spec's rule, generalised to trailing slots): among the slots with a
/// positive weight, from the weakest up (ties: the later slot first), slot j is dropped when its
/// weight renormalised over the slots still kept, ŵ_j = w_j · Σ_all w / Σ_kept w, is below t_l;
/// the walk stops at the first slot kept, and always keeps the strongest. The kept weights are
/// then renormalised to sum to 1. At k = 2 nothing was dropped before the one candidate, so
/// ŵ = w₂ exactly and the result is the spec's rule bit for bit. t_l is calibrated on the top
/// two experts' difference; using it for slots 3… is an approximation (their weights are smaller,
/// so they are dropped first, as the rule intends). Top-1 has nothing to drop.
public struct AdaptiveGate: Hashable, Sendable, Codable {
    /// t_l per layer.
    public var thresholds: [Float]

    public init(thresholds: [Float]) { self.thresholds = thresholds }

    public init(calibration: Calibration, epsilon: Double) {
        thresholds = calibration.layers.map { layer in
            let denominator = layer.sensitivity * layer.expertDifference
            return denominator > 0 ? Float((2 * epsilon / denominator).squareRoot()) : 0
        }
    }

    public func threshold(layer: Int) -> Float { layer < thresholds.count ? thresholds[layer] : 0 }

    /// Why adaptive gating cannot drop anything at router top-k `k` (nil when it can).
    public static func inactiveReason(topK k: Int) -> String? {
        k < 2 ? "adaptive gating has nothing to drop at top-\(k) (it drops trailing slots of top-2 and up)" : nil
    }

    /// Applies the rule to a decision: returns the slots dropped (their weight becomes 0), weakest first.
    public func apply(_ decision: inout Gate.Decision, layer: Int) -> [Int] {
        var dropped: [Int] = []
        apply(&decision, layer: layer, dropped: &dropped)
        return dropped
    }

    /// `apply`, appending the dropped slots to `dropped` (weakest first): a decode step passes a
    /// buffer it keeps, and the walk itself works on the stack, so nothing is allocated per token.
    func apply(_ decision: inout Gate.Decision, layer: Int, dropped: inout [Int]) {
        let slots = decision.weights.count
        guard slots >= 2 else { return }
        let t = threshold(layer: layer)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: slots) { live in
            // Slots that carry weight, strongest first; ties keep slot order so the later one
            // goes first (insertion sort: a handful of slots).
            var count = 0
            for slot in 0..<slots where decision.weights[slot] > 0 {
                var at = count
                while at > 0 && decision.weights[live[at - 1]] < decision.weights[slot] { live[at] = live[at - 1]; at -= 1 }
                live[at] = slot
                count += 1
            }
            guard count >= 2 else { return }
            func sum(_ kept: Int) -> Float {
                var total: Float = 0
                for j in 0..<kept { total += decision.weights[live[j]] }
                return total
            }
            let total = sum(count)
            var kept = count
            while kept > 1 {
                let w = decision.weights[live[kept - 1]]
                // Renormalised over the slots still kept; exactly w before the first drop.
                let renormalised = kept == count ? w : w * total / sum(kept)
                guard renormalised < t else { break }
                dropped.append(live[kept - 1])
                kept -= 1
            }
            guard kept < count else { return }
            let keptSum = sum(kept)
            for j in kept..<count { decision.weights[live[j]] = 0 }
            for j in 0..<kept { decision.weights[live[j]] = kept == 1 ? 1 : decision.weights[live[j]] / keptSum }
        }
    }
}

/// What `moepp calibrate` measures per layer, stored beside the model as `calibration.json`.
public struct Calibration: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        /// F_l: mean over tokens of ‖∂ℓ_t/∂y_l‖² / d, the per-token loss's squared gradient with
        /// respect to the MoE layer output (an isotropic Fisher estimate).
        public var sensitivity: Double
        /// D_l: mean ‖E₁(x) − E₂(x)‖² over tokens whose two chosen experts both ran.
        public var expertDifference: Double
        public var tokens: Int
    }

    public var layers: [Layer]
    public var calibrationTokens: Int
    /// ε used when no other is given.
    public var defaultEpsilon: Double
    /// Routing trace statistics for sizing the expert cache per layer (`CacheAllocation`);
    /// absent in calibrations made before the cache existed.
    public var cache: CacheProfile?

    public init(layers: [Layer], calibrationTokens: Int, defaultEpsilon: Double) {
        self.layers = layers
        self.calibrationTokens = calibrationTokens
        self.defaultEpsilon = defaultEpsilon
    }

    enum CodingKeys: String, CodingKey { case layers, calibrationTokens, defaultEpsilon, cache }

    /// Decoded values are checked: a negative sensitivity or ε ≤ 0 would give thresholds that
    /// silently drop every expert (or none).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        layers = try container.decode([Layer].self, forKey: .layers)
        calibrationTokens = try container.decode(Int.self, forKey: .calibrationTokens)
        defaultEpsilon = try container.decode(Double.self, forKey: .defaultEpsilon)
        cache = try container.decodeIfPresent(CacheProfile.self, forKey: .cache)
        func fail(_ key: String, _ why: String) -> CalibrationValueError { CalibrationValueError(key: key, why: why) }
        // No layers is a cache profile alone (calibrated layers are checked against the model where they are used).
        guard layers.count <= 1 << 16 else { throw fail("layers", "expected at most 65536 layers, found \(layers.count)") }
        guard calibrationTokens >= 0 else { throw fail("calibrationTokens", "expected an integer ≥ 0, found \(calibrationTokens)") }
        guard defaultEpsilon > 0, defaultEpsilon.isFinite else { throw fail("defaultEpsilon", "expected a positive number, found \(defaultEpsilon)") }
        for (index, layer) in layers.enumerated() {
            guard layer.sensitivity >= 0, layer.sensitivity.isFinite else { throw fail("layers[\(index)].sensitivity", "expected a number ≥ 0, found \(layer.sensitivity)") }
            guard layer.expertDifference >= 0, layer.expertDifference.isFinite else {
                throw fail("layers[\(index)].expertDifference", "expected a number ≥ 0, found \(layer.expertDifference)")
            }
            guard layer.tokens >= 0 else { throw fail("layers[\(index)].tokens", "expected an integer ≥ 0, found \(layer.tokens)") }
        }
    }
}

/// A calibration.json value out of range; its description is what the loader's message quotes.
struct CalibrationValueError: Error, LocalizedError {
    let key: String
    let why: String
    var errorDescription: String? { "key '\(key)': \(why)" }
}

/// AdapMoE's sensitivity-based adaptive gating (adapmoe-spec §1). Per layer l a threshold t_l:
/// when the smaller of the two chosen weights is below t_l, that slot is dropped and the other
/// expert takes weight 1. Dropping slot 2 moves the layer output by Δ = w₂·(E₁(x) − E₂(x)), and
/// with the layer's Fisher sensitivity F_l the loss moves by ΔL ≈ ½·F_l·‖Δ‖². Accepting a loss
/// increase of at most ε per token per layer gives
///   t_l = √(2ε / (F_l · D_l)),   D_l = E‖E₁(x) − E₂(x)‖²  (both measured by `moepp calibrate`).
/// Sensitive (usually early) layers get small thresholds; ε is the one user knob.
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

    /// Applies the rule to a decision with two or more chosen experts: returns the slot dropped.
    public func apply(_ decision: inout Gate.Decision, layer: Int) -> Int? {
        guard decision.chosen.count == 2 else { return nil }
        let t = threshold(layer: layer)
        let (w0, w1) = (decision.weights[0], decision.weights[1])
        guard w0 > 0 && w1 > 0 else { return nil }
        let weaker = w1 <= w0 ? 1 : 0
        guard decision.weights[weaker] < t else { return nil }
        decision.weights[weaker] = 0
        decision.weights[1 - weaker] = 1
        return weaker
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
}

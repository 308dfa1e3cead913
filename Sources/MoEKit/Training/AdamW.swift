import Foundation

/// AdamW with decoupled weight decay on matrices (not on norms, vectors or gating residuals):
///   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − lr·(m̂/(√v̂ + ε) + λ·θ)
public final class AdamW<S: TrainingScalar> {
    public var beta1: S = 0.9
    public var beta2: S = 0.95
    public var epsilon: S = 1e-8
    public var weightDecay: S
    public private(set) var step = 0
    public var moments: [S]
    public var velocities: [S]
    let decays: [Bool]

    public init(store: ParameterStore<S>, weightDecay: Double) {
        self.weightDecay = S(weightDecay)
        moments = [S](repeating: 0, count: store.count)
        velocities = [S](repeating: 0, count: store.count)
        var decays = [Bool](repeating: false, count: store.count)
        for entry in store.layout.entries where entry.shape.count == 2 && entry.role != .gatingResidual && entry.role != .constantExpert {
            let start = store.offset(entry.name)
            for i in start..<(start + entry.count) { decays[i] = true }
        }
        self.decays = decays
    }

    public func restore(step: Int, moments: [S], velocities: [S]) {
        precondition(moments.count == self.moments.count && velocities.count == self.velocities.count)
        self.step = step
        self.moments = moments
        self.velocities = velocities
    }

    public func update(_ store: ParameterStore<S>, learningRate: S) {
        step += 1
        let correction1 = 1 - S(pow(Double(beta1), Double(step)))
        let correction2 = 1 - S(pow(Double(beta2), Double(step)))
        let (values, gradients) = (store.values, store.gradients)
        for i in 0..<store.count {
            let g = gradients[i]
            moments[i] = beta1 * moments[i] + (1 - beta1) * g
            velocities[i] = beta2 * velocities[i] + (1 - beta2) * g * g
            let update = (moments[i] / correction1) / ((velocities[i] / correction2).squareRoot() + epsilon)
            values[i] -= learningRate * (update + (decays[i] ? weightDecay * values[i] : 0))
        }
    }
}

/// Linear warm-up to the peak, then cosine decay to `floor`·peak at the last step.
public struct LearningRateSchedule: Codable, Sendable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var floor: Double

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, floor: Double = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.floor = floor
    }

    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        return peak * (floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * progress)))
    }
}

/// Scales all gradients so their global L2 norm is at most `limit`; returns the norm before.
public func clipGradients<S: TrainingScalar>(_ store: ParameterStore<S>, limit: S) -> S {
    var sum: S = 0
    for i in 0..<store.count { sum += store.gradients[i] * store.gradients[i] }
    let norm = sum.squareRoot()
    if norm > limit {
        let scale = limit / norm
        for i in 0..<store.count { store.gradients[i] *= scale }
    }
    return norm
}

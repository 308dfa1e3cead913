import Foundation

/// An FFN every token of a MoE layer passes through beside the routed experts (Qwen2-MoE's
/// `shared_expert`, DeepSeek's `shared_experts`); never a router slot, so masks and top-k leave it
/// alone. Qwen2-MoE scales it per token by a scalar gate:
///   y_t += g_t · E_s(x_t),   g_t = sigmoid(w_g · x_t) with a gate (w_g is 1×d), else g_t = 1.
///
/// DeepSeek stores its n shared experts as one FFN of width n·I (`shared_experts`), which is
/// exactly their sum; `count` says how many experts that one FFN is, so records list each.
public struct SharedExpert: Sendable {
    public let ffn: FFNExpert
    public let gate: WeightMatrix?
    public let count: Int

    public init(ffn: FFNExpert, gate: WeightMatrix?, count: Int = 1) {
        precondition(gate.map { $0.rows == 1 } ?? true, "a shared expert's gate is one row")
        self.ffn = ffn
        self.gate = gate
        self.count = count
    }

    /// g_t for one token.
    public func weight(_ x: UnsafePointer<Float>) -> Float {
        guard let gate else { return 1 }
        var logit: Float = 0
        Kernels.matvec(gate, x, &logit)
        return 1 / (1 + expf(-logit))
    }
}

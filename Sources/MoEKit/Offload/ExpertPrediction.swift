/// AdapMoE's prefetch prediction (adapmoe-spec §2): hidden states change slowly from layer to
/// layer, so layer l+1's router applied to the hidden state after layer l's attention,
///   predicted_{l+1}(t) = FFN experts of gate_{l+1}(W_{r,l+1} · RMSNorm_{l+1}(h_l,t) + G_{l+1} · logits_{l,t}),
/// guesses which experts layer l+1 will need while layer l still computes. The same gate runs
/// (mask, top-k, zero-weight rule, adaptive gating), so a guess never names an expert the real
/// decision could not pick; slots with weight 0 (zero experts, dropped slots) are not fetched.
enum ExpertPrediction {
    /// Per token, the FFN experts `next` is predicted to compute; nil when `next` is dense (no router).
    static func predict(next block: DecoderBlock, hidden: [Float], tokens: Int, passedLogits: [[Float]],
                        controls: RoutingControls) -> [Set<Int>]? {
        guard let moe = block.moe else { return nil }
        let normed = block.normalized(hidden, block.postAttentionNorm, tokens: tokens)
        let d = moe.config.hiddenSize
        return normed.withUnsafeBufferPointer { input in
            (0..<tokens).map { t in
                let decision = moe.decide(input.baseAddress! + t * d, previous: passedLogits[t], controls: controls).decision
                var experts = Set<Int>()
                for (slot, index) in decision.chosen.enumerated() where decision.weights[slot] != 0 {
                    if case .ffn(let e) = moe.config.kind(ofExpert: index) { experts.insert(e) }
                }
                return experts
            }
        }
    }
}

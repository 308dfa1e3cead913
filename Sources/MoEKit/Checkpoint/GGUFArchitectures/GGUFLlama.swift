/// Mixtral as llama.cpp stores it: architecture `llama` with experts (its `LlamaModel`): q/k rows
/// permuted for adjacent-pair RoPE, `w1`/`w3`/`w2` stacked into `ffn_{gate,up,down}_exps`.
/// Older files hold one tensor per expert (`blk.N.ffn_gate.E.weight`); `GGUFModel` reads those too.
struct GGUFLlama: GGUFArchitecture {
    var name: String { "llama" }
    var family: ModelFamily { .mixtral }
    var permutesQueryKey: Bool { true }

    var keys: [GGUFKey] {
        [GGUFKey("num_local_experts", "expert_count") { GGUFKey.u32($0.numExperts) },
         GGUFKey("intermediate_size", "feed_forward_length") { GGUFKey.u32($0.intermediateSize) }]
    }

    func fieldsFromFile(_ file: GGUFFile, into object: inout [String: Any], keyFor: inout [String: String]) throws {
        guard try file.metadata.int("llama.expert_count", default: 0) > 0 else {
            throw file.metadata.fail("llama.expert_count", "a dense llama model (no experts); moepp runs mixture-of-experts models")
        }
    }
}

import Foundation

/// The checkpoint families the engine loads. A vanilla MoE is the Mixtral family.
public enum ModelFamily: String, Codable, Sendable {
    case moepp = "moe++"
    case mixtral
    case olmoe
}

/// What an expert slot is. MoE++ order: FFN experts 0…E−5, constants E−4 and E−3, copy E−2, zero E−1.
public enum ExpertKind: Hashable, Sendable, CustomStringConvertible {
    case ffn(Int)
    case constant(Int)
    case copy
    case zero

    public var isFFN: Bool { if case .ffn = self { return true } else { return false } }

    /// One-letter glyph used by the CLI and the TUI: F, K (constant), C (copy), Z (zero).
    public var glyph: String {
        switch self {
        case .ffn: return "F"
        case .constant: return "K"
        case .copy: return "C"
        case .zero: return "Z"
        }
    }

    public var description: String {
        switch self {
        case .ffn(let i): return "ffn\(i)"
        case .constant(let i): return "const\(i)"
        case .copy: return "copy"
        case .zero: return "zero"
        }
    }
}

/// Architecture hyper-parameters decoded from `config.json`, normalised across families.
public struct ModelConfig: Sendable {
    public var family: ModelFamily
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    /// All experts of a layer, zero-computation ones included (MoE++'s E).
    public var numExperts: Int
    public var numFFNExperts: Int
    public var topK: Int
    /// Mixtral gating: top-k on logits then softmax over the chosen (no zero-weight rule).
    public var useMixtralGating: Bool
    public var twoLayerGate: Bool
    public var useLogitsNorm: Bool
    public var gateNormStd: Float
    /// MoE++ without `moe_feature_no_mul_topk`: the expert input is multiplied by k.
    public var multiplyInputByTopK: Bool
    /// Renormalise the chosen weights to sum to 1 (OLMoE's `norm_topk_prob`; always on for MoE++ and Mixtral).
    public var normalizeTopK: Bool
    /// OLMoE's RMSNorm on the whole q and k projections.
    public var queryKeyNorm: Bool
    public var clipQKV: Float?

    public var hasZeroComputationExperts: Bool { family == .moepp }
    public var queryDim: Int { numHeads * headDim }
    public var keyValueDim: Int { numKeyValueHeads * headDim }

    public func kind(ofExpert index: Int) -> ExpertKind {
        guard hasZeroComputationExperts else { return .ffn(index) }
        switch index {
        case ..<numFFNExperts: return .ffn(index)
        case numExperts - 4: return .constant(0)
        case numExperts - 3: return .constant(1)
        case numExperts - 2: return .copy
        default: return .zero
        }
    }

    public var zeroExpertIndex: Int? { hasZeroComputationExperts ? numExperts - 1 : nil }

    public init(family: ModelFamily, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKeyValueHeads: Int, numExperts: Int, topK: Int = 2, ropeTheta: Float = 10_000,
                rmsNormEps: Float = 1e-5, maxPositionEmbeddings: Int = 2048) {
        self.family = family
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = hiddenSize / numHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = false
        self.bosTokenId = nil
        self.eosTokenIds = []
        self.numExperts = numExperts
        self.numFFNExperts = family == .moepp ? numExperts - 4 : numExperts
        self.topK = topK
        self.useMixtralGating = family != .moepp
        self.twoLayerGate = false
        self.useLogitsNorm = false
        self.gateNormStd = 1
        self.multiplyInputByTopK = false
        self.normalizeTopK = true
        self.queryKeyNorm = family == .olmoe
        self.clipQKV = nil
    }
}

extension ModelConfig {
    /// Decodes `config.json`; `model_type` picks the family ("moe++"/"moepp"/anything with MoE++'s
    /// `moe_*` keys, "mixtral", "olmoe").
    public static func load(path: String) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.missingFile(path) }
        return try decode(JSONFields(data: data, file: path))
    }

    static func decode(_ json: JSONFields) throws -> ModelConfig {
        let modelType = try json.string("model_type", default: "")
        let family: ModelFamily
        switch modelType.lowercased() {
        case "mixtral": family = .mixtral
        case "olmoe": family = .olmoe
        case "moe++", "moepp", "moe_plus_plus", "llama_moe_plus_plus": family = .moepp
        default:
            // The release's own model_type spelling varies; accept MoE-named types carrying MoE++'s keys.
            guard modelType.lowercased().contains("moe"), json.has("moe_expert_interval") || json.has("moe_use_logits_norm") else {
                throw json.fail("model_type", "unsupported model type \"\(modelType)\" (expected MoE++, mixtral or olmoe)")
            }
            family = .moepp
        }
        let hidden = try json.int("hidden_size")
        let heads = try json.int("num_attention_heads")
        let experts: Int
        let topK: Int
        switch family {
        case .moepp:
            guard let list = try json.intList("num_experts", minimum: 5), let first = list.first, list.allSatisfy({ $0 == first }) else {
                throw json.fail("num_experts", "expected [E] with E ≥ 5 (E−4 FFN experts + 2 constant + copy + zero)")
            }
            experts = first
            topK = try json.int("moe_topk", default: try json.int("num_experts_per_tok", default: 2))
            let interval = try json.int("moe_expert_interval", default: 1)
            guard interval == 1 else { throw json.fail("moe_expert_interval", "only 1 (every layer MoE) is supported, found \(interval)") }
        case .mixtral:
            experts = try json.int("num_local_experts")
            topK = try json.int("num_experts_per_tok", default: 2)
        case .olmoe:
            experts = try json.int("num_experts")
            topK = try json.int("num_experts_per_tok", default: 8)
        }
        guard topK <= experts else { throw json.fail(family == .moepp ? "moe_topk" : "num_experts_per_tok", "top-k \(topK) exceeds the \(experts) experts") }
        guard hidden % heads == 0 || json.has("head_dim") else {
            throw json.fail("num_attention_heads", "hidden_size \(hidden) is not divisible by \(heads) heads")
        }
        var config = ModelConfig(
            family: family, vocabSize: try json.int("vocab_size"), hiddenSize: hidden,
            intermediateSize: try json.int("intermediate_size"), numLayers: try json.int("num_hidden_layers"),
            numHeads: heads, numKeyValueHeads: try json.int("num_key_value_heads", default: heads),
            numExperts: experts, topK: topK, ropeTheta: Float(try json.double("rope_theta", default: 10_000)),
            rmsNormEps: Float(try json.double("rms_norm_eps", default: 1e-6)),
            maxPositionEmbeddings: try json.int("max_position_embeddings", default: 4096))
        config.headDim = try json.int("head_dim", default: hidden / heads)
        guard heads % config.numKeyValueHeads == 0 else {
            throw json.fail("num_key_value_heads", "\(config.numKeyValueHeads) does not divide \(heads) attention heads")
        }
        guard config.headDim % 2 == 0 else { throw json.fail("head_dim", "rotary embeddings need an even head size, found \(config.headDim)") }
        let activation = try json.string("hidden_act", default: "silu")
        guard activation == "silu" else { throw json.fail("hidden_act", "only \"silu\" is supported, found \"\(activation)\"") }
        if json.has("rope_scaling") { throw json.fail("rope_scaling", "RoPE scaling is not supported (expected null)") }
        config.tieWordEmbeddings = try json.bool("tie_word_embeddings", default: false)
        config.bosTokenId = try json.intList("bos_token_id")?.first
        config.eosTokenIds = try json.intList("eos_token_id") ?? []
        switch family {
        case .moepp:
            config.useMixtralGating = try json.bool("moe_use_mixtral_gating", default: false)
            config.twoLayerGate = try json.bool("moe_2layer_gate", default: false)
            config.useLogitsNorm = try json.bool("moe_use_logits_norm", default: false)
            config.gateNormStd = Float(try json.double("moe_gate_norm_std", default: 1))
            config.multiplyInputByTopK = !(try json.bool("moe_feature_no_mul_topk", default: false)) && !config.useMixtralGating
        case .mixtral:
            break
        case .olmoe:
            config.normalizeTopK = try json.bool("norm_topk_prob", default: false)
            if json.has("clip_qkv") { config.clipQKV = Float(try json.double("clip_qkv")) }
        }
        return config
    }
}

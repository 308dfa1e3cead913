import Foundation

/// What `moepp quantize --type` writes: one base format for the large matrices, or llama.cpp's
/// Q4_K_M or Q5_K_M mix.
public enum QuantizationType: String, CaseIterable, Sendable {
    case q8_0, q4_0, q4_k, q4_k_m, q5_k_m, f16, bf16, f32

    /// The format of every matrix not kept in f32 (before q4_k_m's per-tensor rules and fallbacks).
    public var baseFormat: WeightFormat {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_k, .q4_k_m: return .q4_k
        case .q5_k_m: return .q5_k
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        }
    }

    /// `general.file_type` (llama.cpp's LLAMA_FTYPE: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2,
    /// MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14 — plain Q4_K everywhere is closest to it —, MOSTLY_Q4_K_M 15,
    /// MOSTLY_Q5_K_M 17, MOSTLY_BF16 32).
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        case .q4_k: return 14
        case .q4_k_m: return 15
        case .q5_k_m: return 17
        case .bf16: return 32
        }
    }
}

/// A model from any source moepp reads (safetensors, `.bin`, GGUF) written as one GGUF file, tensor
/// by tensor, a few MiB of rows at a time (`GGUFWriter`): the model is never in memory twice.
///
/// Names and keys come from the family's table (`GGUFArchitecture`, one file each, the same table
/// `GGUFModel` reads through): llama.cpp's for Mixtral (`llama`, q/k rows permuted for ggml's
/// adjacent-pair RoPE unless the source is permuted already), OLMoE, Qwen2/Qwen3-MoE and
/// Granite-MoE (its q/k permuted too, `input_linear` split into gate and up halves), DeepSeek-V2/V3
/// (`deepseek2`, kv_b_proj split into `attn_k_b` / `attn_v_b`); ours for MoE++
/// (`moepp`, README). Experts are stacked into 3-D `blk.N.ffn_*_exps`. Norms, biases, 1-D
/// tensors, routers (`ffn_gate_inp*`), the gating residual and constant experts stay F32
/// (llama.cpp's converter keeps norms, biases and `ffn_gate_inp(_shexp)` in F32 too); every other
/// matrix takes the type's format, with fallbacks for rows that are not whole blocks
/// (`format(for:)`). The tokenizer is written as `tokenizer.ggml.*` (`GGUFTokenizerExport`).
public struct GGUFExport {
    public struct Choice: Sendable {
        public let name: String
        public let shape: [Int]
        /// What the type asked for, and what was written (they differ for a fallback).
        public let wanted: WeightFormat
        public let used: WeightFormat
    }

    public struct Report: Sendable {
        public var tensors: [Choice] = []
        public var bytes = 0
        /// "llama (SentencePiece)", "gpt2", "copied from the GGUF", or nil when the source has none.
        public var tokenizer: String?
        public var fallbacks: [Choice] { tensors.filter { $0.wanted != $0.used } }
    }

    /// One output tensor: its rows are those of `parts` in turn (experts stacked on the first
    /// axis), each part's rows in the order `sourceRow` gives.
    struct Tensor {
        let name: String
        let shape: [Int]
        let parts: [TensorView]
        var sourceRow: (@Sendable (Int) -> Int)?
        /// Norms, routers, gating residual, constants: written in F32 whatever the type.
        let keepF32: Bool
        var layer: Int?
        /// Output rows drawn from each part (default: the part's rows).
        var rowsPerPart: Int?
        /// Output rows that are source columns, in blocks of `rows`: row j of block b holds column
        /// j of source rows `sourceRow(b, 0..<cols)` (llama.cpp's `attn_k_b`: each head's key rows
        /// of kv_b_proj transposed). One part.
        var transposedBlocks: (rows: Int, sourceRow: @Sendable (_ block: Int, _ i: Int) -> Int)?
    }

    public let config: ModelConfig
    public let architecture: String
    let table: any GGUFArchitecture
    let weights: CheckpointWeights
    let type: QuantizationType
    /// The source stores q/k rows in ggml's adjacent-pair order already (a `llama` or `granitemoe` GGUF).
    let sourceIsPermuted: Bool

    public init(config: ModelConfig, weights: CheckpointWeights, type: QuantizationType) throws {
        self.config = config
        self.weights = weights
        self.type = type
        table = try Self.table(config.family, file: weights.directory)
        architecture = table.name
        sourceIsPermuted = table.permutesQueryKey && config.rotaryPairing == .adjacent
        if !table.permutesQueryKey && config.rotaryPairing != table.rotaryPairing {
            throw CheckpointError(file: weights.directory, "RoPE over \(config.rotaryPairing) cannot be written as \(table.name), whose files rope \(table.rotaryPairing) (rotation pairs)")
        }
    }

    /// The GGUF architecture of a family: llama.cpp's, or ours for MoE++.
    static func table(_ family: ModelFamily, file: String) throws -> any GGUFArchitecture {
        guard let table = GGUFArchitectures.of(family) else {
            let names = GGUFArchitectures.all.map { "\($0.family)" }.joined(separator: ", ")
            throw CheckpointError(file: file, "moepp quantize writes \(names) models; \(family) has no GGUF mapping yet")
        }
        return table
    }

    // MARK: Tensors

    /// Every output tensor in llama.cpp's order (embedding, each block, final norm, output), its
    /// parts viewed in the source.
    func tensors() throws -> [Tensor] {
        let entries = GGUFTensor.head(config: config) + (0..<config.numLayers).flatMap { table.blockTensors(layer: $0, config: config) }
            + GGUFTensor.tail(config: config)
        return try entries.map(tensor)
    }

    /// One table entry over the source's views. Granite's halves come from `input_linear` (rows
    /// e·2I + half·I + i) or, in a GGUF source, from the half already apart.
    func tensor(_ entry: GGUFTensor) throws -> Tensor {
        let inner = Array(entry.shape.dropFirst())
        var out: Tensor
        switch entry.parts {
        case .tensor(let name):
            out = Tensor(name: entry.name, shape: entry.shape, parts: [try weights.tensor(name, shape: entry.shape)], keepF32: entry.keepF32, layer: entry.layer)
        case .experts(let names):
            out = Tensor(name: entry.name, shape: entry.shape, parts: try names.map { try weights.tensor($0, shape: inner) }, keepF32: entry.keepF32, layer: entry.layer)
        case .halves(let whole, let half, let readAs):
            if weights.view(whole) == nil {
                return Tensor(name: entry.name, shape: entry.shape, parts: [try weights.tensor(readAs, shape: entry.shape)], keepF32: entry.keepF32, layer: entry.layer)
            }
            let (experts, rows, cols) = (entry.shape[0], entry.shape[1], entry.shape[2])
            out = Tensor(name: entry.name, shape: entry.shape, parts: [try weights.tensor(whole, shape: [experts, 2 * rows, cols])], keepF32: entry.keepF32, layer: entry.layer)
            out.sourceRow = { r in (r / rows) * 2 * rows + half * rows + r % rows }
            // The part is twice as tall as the output: all output rows come from it.
            out.rowsPerPart = experts * rows
        case .latentUp(let whole, let keys, let nope, let value, let readAs):
            let heads = entry.shape[0], rank = keys ? entry.shape[1] : entry.shape[2], perHead = nope + value
            guard weights.view(whole) != nil else {
                let rows = heads * (keys ? rank : value)
                return Tensor(name: entry.name, shape: entry.shape, parts: [try weights.tensor(readAs, shape: [rows, entry.shape[2]])],
                              keepF32: entry.keepF32, layer: entry.layer)
            }
            out = Tensor(name: entry.name, shape: entry.shape, parts: [try weights.tensor(whole, shape: [heads * perHead, rank])], keepF32: entry.keepF32, layer: entry.layer)
            if keys {
                out.transposedBlocks = (rank, { h, i in h * perHead + i })
                out.rowsPerPart = heads * rank
            } else {
                out.sourceRow = { r in (r / value) * perHead + nope + r % value }
                out.rowsPerPart = heads * value
            }
        }
        if entry.permuted && !sourceIsPermuted {
            out.sourceRow = Self.adjacentPairRow(headDim: config.headDim)
        }
        return out
    }

    /// llama.cpp's `LlamaModel.permute` as a row map: output row r of a head takes the source row
    /// of the rotate-half layout — within a head, output i·2 + j ← source j·(head_dim/2) + i.
    static func adjacentPairRow(headDim: Int) -> @Sendable (Int) -> Int {
        { r in
            let head = r / headDim, within = r % headDim
            return head * headDim + (within % 2) * (headDim / 2) + within / 2
        }
    }

    // MARK: Formats

    /// The format a tensor is written in:
    /// - norms, 1-D tensors, routers, gating residual, constants: F32;
    /// - otherwise the type's base format, except for `q4_k_m` and `q5_k_m`, which follow llama.cpp's
    ///   `llama_tensor_get_type` for Q4_K_M and Q5_K_M (the same rules over another base): `output.weight`
    ///   (or `token_embd` when tied) Q6_K; `attn_v` and every `ffn_down` (routed, shared, dense) Q6_K in the layers
    ///   `usesMoreBits` picks; with exactly 8 experts, `attn_v` and `attn_k` Q8_0 instead and
    ///   `attn_output` Q5_K (its "8-expert model" bumps).
    /// - rows that are not whole blocks fall back as llama.cpp's do: Q4_K → Q5_0, Q5_K → Q5_1,
    ///   Q6_K → Q8_0; Q8_0/Q4_0/Q5_0/Q5_1 → F16 (as llama.cpp and its converter).
    func format(for tensor: Tensor) -> (wanted: WeightFormat, used: WeightFormat) {
        if tensor.keepF32 || tensor.shape.count < 2 { return (.f32, .f32) }
        var wanted = type.baseFormat
        if type == .q4_k_m || type == .q5_k_m {
            let name = tensor.name
            if name == "output.weight" || (config.tieWordEmbeddings && name == "token_embd.weight") {
                wanted = .q6_k
            } else if let l = tensor.layer, name.hasSuffix(".attn_v.weight") {
                wanted = config.numExperts == 8 ? .q8_0 : Self.usesMoreBits(layer: l, layers: config.numLayers) ? .q6_k : type.baseFormat
            } else if name.hasSuffix(".attn_k.weight"), config.numExperts == 8 {
                wanted = .q8_0
            } else if let l = tensor.layer, name.contains("ffn_down"), Self.usesMoreBits(layer: l, layers: config.numLayers) {
                // Every ffn_down of the layer — routed experts, shared experts, a dense layer's —
                // as llama.cpp's category does (a name containing "ffn_down", layer from the name).
                wanted = .q6_k
            } else if name.hasSuffix(".attn_output.weight"), config.numExperts == 8 {
                wanted = .q5_k
            }
        }
        var used = wanted
        let cols = tensor.shape.last!
        while !used.canHoldRow(of: cols) {
            switch used {
            case .q4_k: used = .q5_0
            case .q5_k: used = .q5_1
            case .q6_k: used = .q8_0
            default: used = .f16
            }
        }
        return (wanted, used)
    }

    /// llama.cpp's `use_more_bits(i, n)`: the first and last eighth of the layers, and every third
    /// layer between them.
    static func usesMoreBits(layer i: Int, layers n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    // MARK: Metadata

    /// `general.*` and `{arch}.*` keys (the tokenizer's come from `GGUFTokenizerExport`).
    func metadata(name: String, anyBlocks: Bool) -> [(key: String, value: GGUFValue)] {
        var keys: [(String, GGUFValue)] = [
            ("general.architecture", .string(architecture)), ("general.name", .string(name)),
            ("general.file_type", .uint32(type.fileType)),
        ]
        if anyBlocks { keys.append(("general.quantization_version", .uint32(2))) }
        for key in table.commonKeys + table.keys {
            if let value = key.value(config) { keys.append(("\(architecture).\(key.gguf)", value)) }
        }
        return keys
    }

    // MARK: Writing

    /// Writes the file (through `path.partial`, renamed at the end; removed on failure).
    /// `tokenizer`: `tokenizer.ggml.*` keys (`GGUFTokenizerExport`), or empty.
    public func write(to path: String, name: String, tokenizer: [(key: String, value: GGUFValue)],
                      progress: (String) -> Void = { _ in }) throws -> Report {
        let tensors = try tensors()
        var report = Report()
        var plan: [PlannedTensor] = []
        for tensor in tensors {
            let (wanted, used) = format(for: tensor)
            report.tensors.append(Choice(name: tensor.name, shape: tensor.shape, wanted: wanted, used: used))
            plan.append(PlannedTensor(name: tensor.name, format: used, shape: tensor.shape))
        }
        var keys = metadata(name: name, anyBlocks: plan.contains { $0.format.elementsPerBlock > 1 })
        // bos/eos the tokenizer does not name come from the model's config (config.json's ids).
        var tokenizer = tokenizer
        if !tokenizer.isEmpty {
            for (key, id) in [("tokenizer.ggml.bos_token_id", config.bosTokenId), ("tokenizer.ggml.eos_token_id", config.eosTokenIds.first)]
            where !tokenizer.contains(where: { $0.key == key }) {
                guard let id, id >= 0, id < config.vocabSize else { continue }
                tokenizer.append((key, .uint32(UInt32(id))))
            }
        }
        keys += tokenizer
        let writer = try GGUFWriter(path: path, metadata: keys, plan: plan)
        do {
            for (tensor, planned) in zip(tensors, plan) {
                progress("\(tensor.name) \(tensor.shape) → \(planned.format.name)")
                try write(tensor, as: planned, to: writer)
                report.bytes += planned.byteCount
            }
            try writer.finish()
        } catch {
            try? FileManager.default.removeItem(atPath: writer.temporaryPath)
            throw error
        }
        return report
    }

    /// Streams one tensor: each output row read from its source row (copied when the formats
    /// agree, else widened to f32 and encoded), rows of a chunk spread across cores.
    func write(_ tensor: Tensor, as planned: PlannedTensor, to writer: GGUFWriter) throws {
        let cols = tensor.shape.last!
        let format = planned.format
        let rowBytes = format.bytesPerRow(cols)
        let rowsPerPart = tensor.rowsPerPart ?? tensor.parts[0].elementCount / cols
        let parts = tensor.parts, sourceRow = tensor.sourceRow
        if let blocks = tensor.transposedBlocks {
            try writeTransposed(parts[0], blocks: blocks, cols: cols, as: planned, to: writer)
            return
        }
        try writer.writeRows(planned) { rows, out in
            Parallel.forChunks(rows.count, work: rows.count * cols * 16) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { scratch.deallocate() }
                for i in range {
                    let r = rows.lowerBound + i
                    let part = parts[r / rowsPerPart]
                    let row = sourceRow?(r % rowsPerPart) ?? r % rowsPerPart
                    let source = part.base + row * part.format.bytesPerRow(cols)
                    let destination = out + i * rowBytes
                    if part.format == format {
                        destination.copyMemory(from: source, byteCount: rowBytes)
                        continue
                    }
                    convertToFloat(source, part.format, count: cols, into: scratch)
                    Self.encode(scratch, count: cols, as: format, into: destination)
                }
            }
        }
    }

    /// Rows that are columns of the source (`Tensor.transposedBlocks`): each block's source rows
    /// widened once per chunk, then read down their columns.
    func writeTransposed(_ part: TensorView, blocks: (rows: Int, sourceRow: @Sendable (Int, Int) -> Int), cols: Int,
                         as planned: PlannedTensor, to writer: GGUFWriter) throws {
        let format = planned.format, rowBytes = format.bytesPerRow(cols), width = blocks.rows
        let sourceBytes = part.format.bytesPerRow(width)
        try writer.writeRows(planned) { rows, out in
            Parallel.forChunks(rows.count, work: rows.count * cols * width) { range in
                let block = UnsafeMutablePointer<Float>.allocate(capacity: cols * width), row = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { block.deallocate(); row.deallocate() }
                var loaded = -1
                for i in range {
                    let r = rows.lowerBound + i, b = r / width, j = r % width
                    if b != loaded {
                        for c in 0..<cols { convertToFloat(part.base + blocks.sourceRow(b, c) * sourceBytes, part.format, count: width, into: block + c * width) }
                        loaded = b
                    }
                    for c in 0..<cols { row[c] = block[c * width + j] }
                    Self.encode(row, count: cols, as: format, into: out + i * rowBytes)
                }
            }
        }
    }

    /// One row of floats in `format`'s bytes.
    static func encode(_ x: UnsafePointer<Float>, count: Int, as format: WeightFormat, into out: UnsafeMutableRawPointer) {
        switch format {
        case .f32: out.copyMemory(from: x, byteCount: count * 4)
        case .f16: for i in 0..<count { out.storeBytes(of: Float16(x[i]).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .bf16: for i in 0..<count { out.storeBytes(of: floatToBFloat16(x[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .q8_0, .q4_0, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k: quantizeBlocks(x, count: count, as: format, into: out)
        }
    }
}

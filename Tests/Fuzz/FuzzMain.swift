import Foundation

// libFuzzer entry for moepp's parsers, compiled together with the MoEKit sources into one
// module (Scripts/fuzz.sh), so that internal entry points are reachable. The parser is chosen
// by MOEPP_FUZZ_TARGET: config, safetensors, tokenizer-json, tokenizer-model, calibration,
// torch-bin, gguf, trace, session. A parser may accept or refuse an input; it must not trap, hang, exhaust memory, or
// refuse it with anything but a one-line message (a multi-line message aborts here, as a crash).

enum FuzzTarget: String, CaseIterable {
    case config, safetensors, tokenizerJSON = "tokenizer-json", tokenizerModel = "tokenizer-model", calibration, torchBin = "torch-bin", gguf, trace, session
}

let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["MOEPP_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fputs("set MOEPP_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n", stderr)
        exit(2)
    }
    return target
}()

/// File-based parsers read from a per-process directory on tmpfs when there is one.
let fuzzDirectory: String = {
    let root = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(root)/moepp-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: "/dev/shm/moepp-fuzz-\(getpid())") }
    return path
}()

func writeInput(_ data: Data, name: String) -> String {
    let path = fuzzDirectory + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: data)
    return path
}

/// Touches every tensor a parser accepted (bounded), as the engine would.
func readTensors(_ tensors: [String: TensorView]) {
    for view in tensors.values where view.elementCount <= 1 << 16 {
        _ = view.floats()
    }
}

func runParser(_ data: Data) throws {
    switch fuzzTarget {
    case .config:
        _ = try ModelConfig.decode(JSONFields(data: data, file: "config.json"))
    case .safetensors:
        readTensors(try SafeTensorsFile(path: writeInput(data, name: "model.safetensors")).tensors)
    case .tokenizerJSON:
        let tokenizer = try TokenizerJSON.decode(JSONFields(data: data, file: "tokenizer.json"))
        let ids = tokenizer.encode("Hello wörld 🙂 <s> \u{301}x\n\t 12")
        _ = tokenizer.decode(ids + [0, 1, tokenizer.vocabularySize - 1, tokenizer.vocabularySize, -1])
    case .tokenizerModel:
        let tokenizer = try Tokenizer(sentencePiece: SentencePieceModel(protobuf: Array(data)))
        let ids = tokenizer.encode("Hello wörld 🙂 <s> \u{301}x\n\t 12")
        _ = tokenizer.decode(ids + [0, 1, tokenizer.vocabularySize - 1, tokenizer.vocabularySize, -1])
    case .calibration:
        _ = writeInput(data, name: "calibration.json")
        _ = try Calibrator.load(directory: fuzzDirectory)
    case .torchBin:
        readTensors(try TorchCheckpointFile(path: writeInput(data, name: "pytorch_model.bin")).tensors)
    case .gguf:
        // The file alone, then everything a model run takes from it: config, weights, tokenizer.
        let path = writeInput(data, name: "model.gguf")
        readTensors(try GGUFFile(path: path).tensors)
        let source = try ModelSource(path: path)
        let config = try source.config()
        let weights = try source.weights(config: config)
        var views: [String: TensorView] = [:]
        for name in weights.names { views[name] = weights.view(name) }
        readTensors(views)
        let tokenizer = try source.tokenizer(vocabularySize: config.vocabSize)
        _ = tokenizer.decode(tokenizer.encode("Hello wörld 🙂 <s> \u{301}x\n\t 12"))
    case .trace:
        // Every shape `moepp view` / `moepp stats` take: our documents and lines, vLLM, SGLang, sessions.
        _ = try TraceReader.read(data, file: "trace.json")
    case .session:
        _ = try PlaygroundSession.decode(data, file: "session.json")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    do {
        try runParser(data)
    } catch {
        let message = "\(error)"
        if message.contains("\n") || message.isEmpty {
            fputs("multi-line or empty error message:\n\(message)\n", stderr)
            abort()
        }
    }
    return 0
}

/// `MOEPP_FUZZ_WRITE_SEEDS=dir`: writes small valid safetensors and `.bin` seeds (made by our own
/// writers, so that the corpus starts from files the parsers accept) and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    guard let directory = ProcessInfo.processInfo.environment["MOEPP_FUZZ_WRITE_SEEDS"] else { return 0 }
    do {
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": "pt"]
        writer.add("a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        writer.add("b.weight", shape: [4], values: [0.5, -1, 2, 0], dtype: .bf16)
        writer.add("c", shape: [], values: [7], dtype: .f16)
        try writer.write(to: directory + "/safetensors/small.safetensors")
        let torch = try TorchCheckpointWriter(path: directory + "/torch-bin/small.bin")
        try torch.append(name: "a.weight", format: .f32, shape: [2, 3], bytes: [Float](repeating: 1.5, count: 6).withUnsafeBytes { Array($0) })
        try torch.append(name: "b.weight", format: .bf16, shape: [4], bytes: [UInt8](repeating: 0x3F, count: 8))
        try torch.finish()
    } catch {
        fputs("cannot write seeds: \(error)\n", stderr)
        exit(1)
    }
    exit(0)
}

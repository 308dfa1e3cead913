import Foundation
import Testing
@testable import MoEKit

/// Issue 11, items 3, 15 and 16: training plans checked before anything is allocated, trainer
/// checkpoints that are complete or absent, and a damaged checkpoint as a one-line error.
@Suite("Bad input: training plans, checkpoints complete or absent", .serialized)
struct TrainingHardeningTests {
    func corpus(validationRepeats: Int = 4) -> (train: [String], validation: [String], tokenizer: String) {
        let directory = TestSupport.temporaryDirectory()
        let train = directory + "/train.txt", validation = directory + "/validation.txt"
        try! String(repeating: TrainerTests.text, count: 20).write(toFile: train, atomically: true, encoding: .utf8)
        try! String(repeating: TrainerTests.text, count: validationRepeats).write(toFile: validation, atomically: true, encoding: .utf8)
        let result = BPETrainer(vocabularySize: 300).train(wordCounts: BPETrainer.wordCounts([TrainerTests.text]))
        let tokenizer = directory + "/tokenizer.json"
        try! Tokenizer.writeByteLevel(tokens: result.tokens, merges: result.merges, specialTokens: ["<|endoftext|>"], to: tokenizer)
        return ([train], [validation], tokenizer)
    }

    func plan(steps: Int = 20) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.hiddenSize = 16; plan.layers = 2; plan.heads = 2; plan.intermediateSize = 24; plan.ffnExperts = 4
        plan.context = 32; plan.batch = 4; plan.length = 16; plan.steps = steps; plan.warmupSteps = 5
        plan.peakLearningRate = 1e-2; plan.evaluateEvery = 10; plan.evaluationBatches = 2; plan.checkpointEvery = 10
        return plan
    }

    static func planObject() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingPlan())) as! [String: Any]
    }

    static let badPlans: [(key: String, value: Any, expected: String)] = [
        ("hiddenSize", -256, "key 'hiddenSize'"), ("hiddenSize", 0, "key 'hiddenSize'"), ("hiddenSize", 1_000_000, "key 'hiddenSize'"),
        ("hiddenSize", 1e30, "key 'hiddenSize'"), ("hiddenSize", "256", "key 'hiddenSize': expected an integer"),
        ("heads", 3, "do not divide hiddenSize"), ("heads", 0, "key 'heads'"), ("heads", 256, "even head size"),
        ("layers", -1, "key 'layers'"), ("layers", 1_000_000, "key 'layers'"), ("intermediateSize", 0, "key 'intermediateSize'"),
        ("ffnExperts", 0, "key 'ffnExperts'"), ("topK", 13, "key 'topK'"), ("topK", 0, "key 'topK'"),
        ("length", 257, "key 'length'"), ("context", 0, "key 'context'"), ("batch", 0, "key 'batch'"), ("batch", -4, "key 'batch'"),
        ("batch", 100_000, "key 'batch'"), ("steps", 0, "key 'steps'"), ("warmupSteps", 5000, "key 'warmupSteps'"),
        ("peakLearningRate", -0.003, "key 'peakLearningRate'"), ("peakLearningRate", 0, "key 'peakLearningRate'"),
        ("weightDecay", -0.1, "key 'weightDecay'"), ("gradientClip", 0, "key 'gradientClip'"), ("tau", 2, "key 'tau'"),
        ("finalLearningRateFraction", 1.5, "key 'finalLearningRateFraction'"), ("balanceCoefficient", -1, "key 'balanceCoefficient'"),
        ("gateNormStd", 0, "key 'gateNormStd'"), ("evaluateEvery", 0, "key 'evaluateEvery'"), ("checkpointEvery", 0, "key 'checkpointEvery'"),
        ("evaluationBatches", -1, "key 'evaluationBatches'"), ("exportDType", "Q4", "key 'exportDType'"), ("family", "olmoe", "key 'family'"),
        ("seed", -1, "key 'seed'"), ("hiddensize", 256, "key 'hiddensize': unknown key"), ("steps", NSNull(), "key 'steps'"),
    ]

    @Test("every bad plan value is one line naming plan.json and the key", arguments: badPlans.indices)
    func badPlan(index: Int) throws {
        let (key, value, expected) = Self.badPlans[index]
        var object = try Self.planObject()
        object[key] = value
        let path = TestSupport.temporaryDirectory() + "/plan.json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        #expect(throws: CheckpointError.self) { try TrainingPlan.load(path: path) }
        do { _ = try TrainingPlan.load(path: path) } catch let error as CheckpointError {
            #expect(error.description.hasPrefix(path + ": ") && error.description.contains(expected) && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test("the shipped plans are valid")
    func shippedPlans() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["moe-tiny", "moepp-tiny"] { _ = try TrainingPlan.load(path: root.appendingPathComponent("Assets/plans/\(name).json").path) }
    }

    @Test("`moepp train` with a negative hiddenSize is one line, not SIGSEGV in AdamW")
    func negativeHiddenCLI() throws {
        var object = try Self.planObject()
        object["hiddenSize"] = -256
        let directory = TestSupport.temporaryDirectory()
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: directory + "/plan.json"))
        let (train, validation, tokenizer) = corpus()
        let result = try TestSupport.run(["train", "--plan", directory + "/plan.json", "--run", directory + "/run", "--tokenizer", tokenizer,
                                          "--corpus", (train[0] as NSString).deletingLastPathComponent, "--validation", (validation[0] as NSString).deletingLastPathComponent])
        #expect(result.status == 1 && result.stderr.contains("plan.json: key 'hiddenSize'"), "\(result.status) \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("a validation split shorter than one batch writes a checkpoint (validation loss null, not an EncodingError)")
    func shortValidationSplit() throws {
        let (train, _, tokenizer) = corpus()
        let validation = TestSupport.temporaryDirectory() + "/validation.txt"
        try String(repeating: "And God said, Let there be light. ", count: 3).write(toFile: validation, atomically: true, encoding: .utf8)
        let trainer = try Trainer(plan: plan(steps: 10), runDirectory: TestSupport.temporaryDirectory(), tokenizerPath: tokenizer,
                                  trainFiles: train, validationFiles: [validation], log: { _ in })
        try trainer.run(log: { _ in })
        #expect(trainer.step == 10)
    }

    @Test("a corpus shorter than one window is one error, not a trap in the batch sampler")
    func corpusTooShort() throws {
        let (_, validation, tokenizer) = corpus()
        let train = TestSupport.temporaryDirectory() + "/train.txt"
        try "a few words".write(toFile: train, atomically: true, encoding: .utf8)
        #expect(throws: TrainingError.self) {
            try Trainer(plan: plan(), runDirectory: TestSupport.temporaryDirectory(), tokenizerPath: tokenizer, trainFiles: [train], validationFiles: validation, log: { _ in })
        }
    }

    @Test("a damaged tokens.bin header is one error, not an overflow trap")
    func damagedTokenFile() throws {
        let (train, validation, tokenizer) = corpus()
        let run = TestSupport.temporaryDirectory()
        _ = try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        var data = try Data(contentsOf: URL(fileURLWithPath: run + "/tokens.bin"))
        data.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        try data.write(to: URL(fileURLWithPath: run + "/tokens.bin"))
        #expect(throws: CheckpointError.self) {
            try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        }
    }

    struct SimulatedKill: Error {}

    @Test("a kill between any two checkpoint writes resumes from the previous complete checkpoint, bit-identically",
          arguments: ["model.safetensors", "config.json", "optimiser.safetensors", "state.json"])
    func killBetweenWrites(file: String) throws {
        let (train, validation, tokenizer) = corpus()
        func trainer(_ directory: String) throws -> Trainer {
            try Trainer(plan: plan(), runDirectory: directory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        }
        let straight = try trainer(TestSupport.temporaryDirectory())
        try straight.run(log: { _ in })
        let run = TestSupport.temporaryDirectory()
        let first = try trainer(run)
        first.afterCheckpointWrite = { name in if first.step == 20 && name == file { throw SimulatedKill() } }
        #expect(throws: SimulatedKill.self) { try first.run(log: { _ in }) }
        let second = try trainer(run)
        #expect(second.step == 10, "resumed at \(second.step) after a kill after \(file) of step 20")
        try second.run(log: { _ in })
        #expect((0..<straight.store.count).allSatisfy { straight.store.values[$0] == second.store.values[$0] })
    }

    @Test("a kill after the manifest resumes from the new checkpoint")
    func killAfterManifest() throws {
        let (train, validation, tokenizer) = corpus()
        let run = TestSupport.temporaryDirectory()
        let first = try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        first.afterCheckpointWrite = { name in if first.step == 20 && name == "manifest.json" { throw SimulatedKill() } }
        #expect(throws: SimulatedKill.self) { try first.run(log: { _ in }) }
        let second = try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        #expect(second.step == 20)
    }

    @Test("a corrupt, missing or truncated file of a committed checkpoint is a one-line error, not a restart from step 0",
          arguments: ["corrupt state", "missing state", "truncated weights", "legacy without state", "legacy corrupt state"])
    func damagedCheckpoint(damage: String) throws {
        let (train, validation, tokenizer) = corpus()
        let run = TestSupport.temporaryDirectory()
        let first = try Trainer(plan: plan(steps: 10), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        try first.run(log: { _ in })
        let step = run + "/checkpoint/step-000000010"
        switch damage {
        case "corrupt state": try "{\"step\": 3".write(toFile: step + "/state.json", atomically: true, encoding: .utf8)
        case "missing state": try FileManager.default.removeItem(atPath: step + "/state.json")
        case "truncated weights": truncate(step + "/model.safetensors", 100)
        default:
            // A run from before the manifest: the files directly in checkpoint/.
            for name in ["model.safetensors", "config.json", "optimiser.safetensors", "state.json"] {
                try FileManager.default.moveItem(atPath: step + "/" + name, toPath: run + "/checkpoint/" + name)
            }
            try FileManager.default.removeItem(atPath: step)
            if damage == "legacy without state" { try FileManager.default.removeItem(atPath: run + "/checkpoint/state.json") }
            else { try "not json".write(toFile: run + "/checkpoint/state.json", atomically: true, encoding: .utf8) }
        }
        do {
            let resumed = try Trainer(plan: plan(steps: 10), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
            Issue.record("\(damage): resumed at step \(resumed.step)")
        } catch let error as CheckpointError {
            #expect(!error.description.contains("\n") && (error.description.contains("state.json") || error.description.contains("model.safetensors")), "\(error)")
        }
    }

    @Test("an intact pre-manifest checkpoint still resumes, and the next checkpoint moves it into a step directory")
    func legacyCheckpointResumes() throws {
        let (train, validation, tokenizer) = corpus()
        let run = TestSupport.temporaryDirectory()
        let first = try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        try first.run(stopAt: 10, log: { _ in })
        let step = run + "/checkpoint/step-000000010"
        for name in ["model.safetensors", "config.json", "optimiser.safetensors", "state.json"] {
            try FileManager.default.moveItem(atPath: step + "/" + name, toPath: run + "/checkpoint/" + name)
        }
        try FileManager.default.removeItem(atPath: step)
        let second = try Trainer(plan: plan(), runDirectory: run, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        #expect(second.step == 10)
        try second.run(log: { _ in })
        #expect(try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoint") == ["step-000000020"])
    }
}

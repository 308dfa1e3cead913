import Foundation
import Testing
@testable import MoEKit

@Suite("Training: BPE, a short run, checkpoints and resume", .serialized)
struct TrainerTests {
    static let text = """
    To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer
    The slings and arrows of outrageous fortune, Or to take arms against a sea of troubles.
    In the beginning God created the heaven and the earth. And the earth was without form, and void.
    And God said, Let there be light: and there was light. And God saw the light, that it was good.
    """

    func corpus() -> (train: [String], validation: [String], tokenizer: String) {
        let directory = TestSupport.temporaryDirectory()
        let train = directory + "/train.txt", validation = directory + "/validation.txt"
        try! String(repeating: Self.text, count: 20).write(toFile: train, atomically: true, encoding: .utf8)
        try! String(repeating: Self.text, count: 4).write(toFile: validation, atomically: true, encoding: .utf8)
        let result = BPETrainer(vocabularySize: 300).train(wordCounts: BPETrainer.wordCounts([Self.text]))
        let tokenizer = directory + "/tokenizer.json"
        try! Tokenizer.writeByteLevel(tokens: result.tokens, merges: result.merges, specialTokens: ["<|endoftext|>"], to: tokenizer)
        return ([train], [validation], tokenizer)
    }

    func plan(_ family: String) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.family = family
        plan.hiddenSize = 16; plan.layers = 2; plan.heads = 2; plan.intermediateSize = 24; plan.ffnExperts = 4
        plan.context = 32; plan.batch = 4; plan.length = 16; plan.steps = 60; plan.warmupSteps = 5
        plan.peakLearningRate = 1e-2; plan.evaluateEvery = 20; plan.evaluationBatches = 2; plan.checkpointEvery = 10
        return plan
    }

    @Test("the BPE trainer learns frequent words and its tokenizer round-trips")
    func bpe() throws {
        let result = BPETrainer(vocabularySize: 300).train(wordCounts: BPETrainer.wordCounts([Self.text, Self.text]))
        #expect(result.tokens.count == 300 && result.merges.count == 44)
        #expect(result.tokens.contains("Ġthe") && result.tokens.contains("ĠGod"))
        let path = TestSupport.temporaryDirectory() + "/tokenizer.json"
        try Tokenizer.writeByteLevel(tokens: result.tokens, merges: result.merges, specialTokens: ["<|endoftext|>"], to: path)
        let tokenizer = try Tokenizer.load(path: path)
        let ids = tokenizer.encode(Self.text)
        #expect(ids.count * 3 < Self.text.utf8.count * 2, "44 merges compress the text by a third: \(ids.count) tokens")
        #expect(tokenizer.decode(ids) == Self.text)
    }

    @Test("a short run lowers the loss, for MoE++ and vanilla", arguments: ["moe++", "mixtral"])
    func shortRunLowersLoss(family: String) throws {
        let (train, validation, tokenizer) = corpus()
        let trainer = try Trainer(plan: plan(family), runDirectory: TestSupport.temporaryDirectory(), tokenizerPath: tokenizer,
                                  trainFiles: train, validationFiles: validation, log: { _ in })
        let before = trainer.validationLoss()
        try trainer.run(log: { _ in })
        let after = trainer.validationLoss()
        #expect(after < before - 1, "validation loss \(before) → \(after)")
    }

    @Test("stopping and resuming gives bit-identical weights to an uninterrupted run")
    func resumeIsExact() throws {
        let (train, validation, tokenizer) = corpus()
        var short = plan("moe++")
        short.steps = 20
        let straightDirectory = TestSupport.temporaryDirectory(), resumedDirectory = TestSupport.temporaryDirectory()
        let straight = try Trainer(plan: short, runDirectory: straightDirectory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        try straight.run(log: { _ in })
        let first = try Trainer(plan: short, runDirectory: resumedDirectory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        try first.run(stopAt: 10, log: { _ in })
        let second = try Trainer(plan: short, runDirectory: resumedDirectory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        #expect(second.step == 10)
        try second.run(log: { _ in })
        #expect((0..<straight.store.count).allSatisfy { straight.store.values[$0] == second.store.values[$0] })
    }

    @Test("an exported model loads in the engine in the official layout and generates")
    func exportLoads() throws {
        let (train, validation, tokenizer) = corpus()
        var short = plan("moe++")
        short.steps = 10
        let trainer = try Trainer(plan: short, runDirectory: TestSupport.temporaryDirectory(), tokenizerPath: tokenizer,
                                  trainFiles: train, validationFiles: validation, log: { _ in })
        try trainer.run(log: { _ in })
        let exported = TestSupport.temporaryDirectory()
        try trainer.export(to: exported)
        let weights = try CheckpointWeights(directory: exported)
        #expect(weights.contains("model.layers.1.mlp.moe.gate.gate_map.weight"))
        #expect(weights.contains("model.layers.0.mlp.moe.experts.experts.4.constant"))
        #expect(weights.view("model.layers.0.mlp.moe.experts.experts.0.up_proj.weight")?.shape == [48, 16])
        #expect(weights.view("lm_head.weight")?.format == .f16)
        let generator = try Generator(directory: exported)
        let report = try generator.generate(prompt: "To be", maxTokens: 5) { _ in }
        #expect(report.promptTokens > 0)
    }

    @Test("a run directory refuses a different plan")
    func differentPlanRefused() throws {
        let (train, validation, tokenizer) = corpus()
        let directory = TestSupport.temporaryDirectory()
        _ = try Trainer(plan: plan("moe++"), runDirectory: directory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        var other = plan("moe++")
        other.seed = 99
        #expect(throws: CheckpointError.self) {
            _ = try Trainer(plan: other, runDirectory: directory, tokenizerPath: tokenizer, trainFiles: train, validationFiles: validation, log: { _ in })
        }
    }
}

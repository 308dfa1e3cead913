import Foundation
import Testing
@testable import MoEKit

/// The kept decode scratch under what changes between steps: routing controls (top-k, adaptive
/// gating, masks, the gating residual), an expert cache with prediction, a second generation.
@Suite("Decode scratch under controls that change from step to step, an expert cache, a second generation")
struct DecodeScratchControlsTests {
    /// One control setting per step: top-k 1 → E → 2, adaptive gating from a calibration, two
    /// experts masked off, the gating residual off then on again, back to the defaults.
    static func schedule(_ config: ModelConfig) -> [RoutingControls] {
        // Per layer, t = √(2ε / (F·D)) with F·D = 0.4, 1, 0.6, … and ε = 0.08: thresholds 0.63,
        // 0.4, 0.52, … (high, so that some slot is dropped in every family).
        let layers = (0..<config.numLayers).map { l in
            Calibration.Layer(sensitivity: [0.4, 1, 0.6][l % 3], expertDifference: 1, tokens: 10)
        }
        let calibration = Calibration(layers: layers, calibrationTokens: 100, defaultEpsilon: 0.01)
        var masked = RoutingControls()
        masked.mask.disabledExperts = [0, 1]
        return [
            RoutingControls(),
            RoutingControls(topK: 1),
            RoutingControls(topK: config.numExperts),
            RoutingControls(topK: 2),
            RoutingControls(adaptiveGate: AdaptiveGate(calibration: calibration, epsilon: 0.08)),
            masked,
            RoutingControls(gatingResidual: false),
            RoutingControls(gatingResidual: false, adaptiveGate: AdaptiveGate(calibration: calibration, epsilon: 0.08)),
            RoutingControls(gatingResidual: true),
            RoutingControls(),
        ]
    }

    static func greedy(_ logits: [Float]) -> Int {
        logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
    }

    @Test("kept scratch with controls changing every step = a fresh pass per step, bit for bit", arguments: DecodeScratchTests.models)
    func changingControls(name: String) throws {
        let model = try Transformer(directory: DecodeScratchTests.directory(name))
        let schedule = Self.schedule(model.config)
        let prompt = [12, 20, 45, 3]
        let (kept, fresh) = (model.makeCache(), model.makeCache())
        var logits = try model.forward(prompt, cache: kept).logits
        _ = try model.forward(prompt, cache: fresh)
        let step = DecodeScratch(config: model.config, tokens: 1)
        var droppedSlots = 0
        for (s, controls) in (schedule + schedule).enumerated() {
            let next = Self.greedy(logits)
            try model.decode(next, cache: kept, controls: controls, scratch: step)
            let reference = try model.forward([next], cache: fresh, controls: controls)
            #expect(step.logits.map(\.bitPattern) == reference.logits.map(\.bitPattern), "\(name) step \(s)")
            #expect(try DecodeScratchTests.encoded(step.routing[0]) == DecodeScratchTests.encoded(reference.routing[0]), "\(name) step \(s)")
            droppedSlots += step.routing[0].reduce(0) { $0 + $1.chosen.filter(\.dropped).count }
            if controls.topK == 1 { #expect(step.routing[0].filter(\.hasRouter).allSatisfy { $0.chosen.count == 1 }, "\(name) step \(s)") }
            if !controls.mask.disabledExperts.isEmpty {
                #expect(step.routing[0].allSatisfy { $0.chosen.allSatisfy { $0.index > 1 } }, "\(name) step \(s)")
            }
            logits = reference.logits
        }
        // The schedule exercised what it claims: adaptive gating dropped something somewhere
        // (every family here routes to at least two experts under the defaults).
        #expect(droppedSlots > 0, "\(name)")
    }

    @Test("an expert cache (budget below and above one layer's experts) with prediction decodes the logits of the mapping",
          arguments: ["moepp", "mixtral", "olmoe"], [false, true])
    func expertCache(name: String, aboveOneLayer: Bool) throws {
        let directory = DecodeScratchTests.directory(name)
        let mapped = try Transformer(directory: directory)
        let cached = try Transformer(directory: directory)
        let perLayer = cached.config.numFFNExperts
        let budget = aboveOneLayer ? perLayer * cached.config.numLayers : cached.config.topK
        #expect(aboveOneLayer ? budget > perLayer : budget < perLayer)
        try ExpertCacheSetup.install(on: cached, directory: directory, budget: .slots(budget), policy: .lru, prefetch: true)
        cached.expertPrediction = true
        let prompt = [12, 20, 45, 3]
        let (mappedCache, cachedCache) = (mapped.makeCache(), cached.makeCache())
        var logits = try mapped.forward(prompt, cache: mappedCache).logits
        #expect(try cached.forward(prompt, cache: cachedCache).logits.map(\.bitPattern) == logits.map(\.bitPattern))
        let (mappedStep, cachedStep) = (DecodeScratch(config: mapped.config, tokens: 1), DecodeScratch(config: cached.config, tokens: 1))
        var predicted = 0
        for s in 0..<12 {
            let next = Self.greedy(logits)
            try mapped.decode(next, cache: mappedCache, scratch: mappedStep)
            try cached.decode(next, cache: cachedCache, scratch: cachedStep)
            #expect(cachedStep.logits.map(\.bitPattern) == mappedStep.logits.map(\.bitPattern), "\(name) step \(s)")
            #expect(cachedStep.routing[0].map { $0.chosen } == mappedStep.routing[0].map { $0.chosen }, "\(name) step \(s)")
            predicted += cachedStep.routing[0].filter { $0.predictedExperts != nil }.count
            logits = mappedStep.logits
        }
        #expect(predicted > 0, "prediction was on")
        #expect(cached.expertCache!.statistics.reduce(0) { $0 + $1.misses } > 0, "the experts came through the cache")
    }

    @Test("the Generator's kept scratch, controls changed between tokens, over two generate() calls = fresh passes",
          arguments: ["moepp", "mixtral", "olmoe"])
    func generatorTwoGenerations(name: String) throws {
        let controls = LiveControls()
        let generator = try Generator(directory: DecodeScratchTests.directory(name), controls: controls)
        let schedule = Self.schedule(generator.model.config)
        var reports: [TokenReport] = []
        let onEvent = { (event: GenerationEvent) in
            guard case .token(let token) = event else { return }
            reports.append(token)
            controls.update { $0.routing = schedule[reports.count % schedule.count] }
        }
        let prompts = [[12, 20, 45, 3], [7, 99]]
        var promptSettings: [RoutingControls] = []
        var counts: [Int] = []
        for prompt in prompts {
            promptSettings.append(controls.current.routing)
            try generator.generate(ids: prompt, maxTokens: schedule.count, onEvent: onEvent)
            counts.append(reports.count)
        }
        #expect(counts == [schedule.count, 2 * schedule.count])
        // The same conversation replayed with a fresh pass per token, under each token's settings.
        let model = generator.model
        let cache = model.makeCache()
        var index = 0
        for (p, prompt) in prompts.enumerated() {
            var logits = try model.forward(prompt, cache: cache, controls: promptSettings[p]).logits
            while index < counts[p] {
                let report = reports[index]
                #expect(report.id == Self.greedy(logits), "\(name) token \(index)")
                let reference = try model.forward([report.id], cache: cache, controls: report.settings.routing)
                #expect(try DecodeScratchTests.encoded(report.routing.layers) == DecodeScratchTests.encoded(reference.routing[0]),
                        "\(name) token \(index)")
                logits = reference.logits
                index += 1
            }
        }
    }

    @Test("a scratch made for another model is refused with a message (checked dimensions)")
    func scratchDimensions() throws {
        let model = try Transformer(directory: DecodeScratchTests.directory("moepp"))
        var other = model.config
        other.hiddenSize += 8
        #expect(DecodeScratch(config: model.config, tokens: 1).mismatch(model.config) == nil)
        let message = try #require(DecodeScratch(config: other, tokens: 1).mismatch(model.config))
        #expect(message.contains("hidden"))
        other = model.config
        other.numLayers += 1
        #expect(DecodeScratch(config: other, tokens: 1).mismatch(model.config) != nil)
    }
}

import Foundation
import MoEKit

public enum Focus: Int, CaseIterable, Sendable { case input, map, chat }

/// One exchange: what the user typed and what the model continued with.
public struct Turn: Sendable {
    public var prompt: String
    public var reply = ""
    /// Indices into `PlaygroundState.tokens` of the generated tokens, in order, with the text each added.
    public var replyTokens: [(index: Int, text: String)] = []
    public var notice: String?
    public var finished: FinishReport?
    /// Index into `PlaygroundState.tokens` of the turn's first prompt token.
    public var firstToken = 0
    /// The settings when the turn was sent.
    public var settings: SessionSettings?
}

/// Everything the screen shows, built only from generator events and key presses — so views can
/// be tested by feeding events and rendering into a `CellGrid`.
public final class PlaygroundState {
    public private(set) var config: ModelConfig
    public private(set) var modelName: String
    /// The path the model was opened from (what a saved session records).
    public private(set) var modelPath: String
    public var tokens: [TokenRouting] = []
    /// The settings each token ran under, as changes (see `PlaygroundSession.settingsTimeline`).
    public var settingsTimeline: [PlaygroundSession.SettingsChange] = []
    public var turns: [Turn] = []
    public var focus: Focus = .input
    public var input = LineEditor()
    public var showHelp = false
    /// Help lines scrolled past (the overlay clamps it).
    public var helpScroll = 0
    /// The statistics screen, while open (F12, `/stats`).
    public var statisticsScreen: RoutingStatisticsScreenState?
    /// Where the tokens came from, and whether they are a trace opened by `moepp view` (no model).
    public var traceSource = RoutingTrace.Source.moepp
    public var readOnly = false
    public var status: (text: String, isError: Bool)?
    public var generating = false
    public var stopRequested = false
    /// Ctrl+C pressed while idle: a second one quits.
    public var quitArmed = false
    public var settings: GenerationSettings
    public var maxTokens = 64
    /// AdapMoE calibration of the model (calibration.json), if it has one; ε for adaptive gating.
    public var calibration: Calibration?
    /// The expert cache in use ("11 slots · lru · prefetch"), or nil when every expert is mapped.
    public var cacheDescription: String?
    public var adaptiveEpsilon = 0.01
    /// The last A/B replay and its screen (`/ab`).
    public var ab = ABScreenState()

    /// The selected routing-map cell; `followTail` keeps it on the newest token.
    public var selectedToken = 0
    public var selectedLayer = 0
    public var followTail = true
    /// Chat scroll, in lines up from the bottom (0 = following the tail).
    public var chatScroll = 0
    /// First inspector row shown when the experts do not all fit (the view clamps it).
    public var inspectorScroll = 0

    public var sessionStatistics: RoutingStatistics
    public var replyStatistics: RoutingStatistics
    public var promptTokensPerSecond: Double = 0
    public var decodeTokensPerSecond: Double = 0
    /// Recent per-token decode rates (tokens/s), newest last.
    public var rateHistory: [Double] = []
    public var generatedTokens = 0
    public var generatedFFN = 0

    public init(config: ModelConfig, modelName: String, modelPath: String = "", settings: GenerationSettings) {
        self.config = config
        self.modelName = modelName
        self.modelPath = modelPath
        self.settings = settings
        sessionStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        replyStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
    }

    /// FFN experts a vanilla MoE would have run for `token`, per layer (the tint's baseline).
    public func vanillaFFN(_ token: TokenRouting) -> Double {
        guard !token.layers.isEmpty else { return 0 }
        let total = token.layers.reduce(0) { $0 + RoutingStatistics.vanillaFFN($1, ffnExperts: config.numFFNExperts) }
        return Double(total) / Double(token.layers.count)
    }

    public func beginTurn(prompt: String, notice: String? = nil) {
        turns.append(Turn(prompt: prompt, notice: notice, firstToken: tokens.count,
                          settings: SessionSettings(settings, maxTokens: maxTokens, adaptiveEpsilon: adaptiveEpsilon)))
        replyStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        generating = true
        stopRequested = false
    }

    public func apply(_ event: GenerationEvent) {
        switch event {
        case .prompt(let report):
            record(report.settings, from: tokens.count)
            for token in report.tokens { append(token) }
            promptTokensPerSecond = report.tokensPerSecond
        case .token(let report):
            record(report.settings, from: tokens.count)
            let index = append(report.routing)
            replyStatistics.add(report.routing)
            generatedTokens += 1
            generatedFFN += report.routing.ffnExpertsComputed
            if !turns.isEmpty {
                turns[turns.count - 1].reply += report.text
                turns[turns.count - 1].replyTokens.append((index, report.text))
            }
            if report.seconds > 0 {
                rateHistory.append(1 / report.seconds)
                if rateHistory.count > 240 { rateHistory.removeFirst(rateHistory.count - 240) }
            }
        case .finished(let report):
            generating = false
            if stopRequested, status?.text == "stopping…" { say("stopped") }
            stopRequested = false
            decodeTokensPerSecond = report.decodeTokensPerSecond
            if !turns.isEmpty {
                turns[turns.count - 1].reply += report.trailingText
                turns[turns.count - 1].finished = report
            }
        }
    }

    @discardableResult
    func append(_ token: TokenRouting) -> Int {
        tokens.append(token)
        sessionStatistics.add(token)
        if followTail { selectedToken = tokens.count - 1 }
        return tokens.count - 1
    }

    /// A different model from now on: the conversation (of the old model) is forgotten.
    public func switchModel(config: ModelConfig, name: String, path: String) {
        self.config = config
        modelName = name
        modelPath = path
        selectedLayer = 0
        clear()
    }

    /// Notes the settings from token `index` on, when they differ from the last noted.
    func record(_ settings: GenerationSettings, from index: Int) {
        let typed = SessionSettings(settings, maxTokens: maxTokens, adaptiveEpsilon: adaptiveEpsilon)
        if settingsTimeline.last?.settings != typed { settingsTimeline.append(.init(fromToken: index, settings: typed)) }
    }

    public func clear() {
        tokens = []
        settingsTimeline = []
        turns = []
        selectedToken = 0
        followTail = true
        chatScroll = 0
        sessionStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        replyStatistics = RoutingStatistics(layers: config.numLayers, ffnExperts: config.numFFNExperts)
        rateHistory = []
        promptTokensPerSecond = 0
        decodeTokensPerSecond = 0
        generatedTokens = 0
        generatedFFN = 0
    }

    public func moveSelection(tokens deltaTokens: Int, layers deltaLayers: Int) {
        guard !tokens.isEmpty else { return }
        selectedToken = max(0, min(tokens.count - 1, selectedToken + deltaTokens))
        selectedLayer = max(0, min(config.numLayers - 1, selectedLayer + deltaLayers))
        followTail = selectedToken == tokens.count - 1
    }

    public func say(_ text: String, error: Bool = false) { status = (text, error) }
}

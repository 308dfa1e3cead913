import Foundation

/// A playground session as a file: the conversation, the model it ran on, every setting the
/// generator reads per token (typed), and the routing trace. `/save`, `/load`, `/export` and the
/// autosave write this one format; `moepp view` reads it without loading a model, so the model's
/// shape (layers, experts and their kinds) travels with it.
///
/// Versioned: `version` is written first and checked before anything else is decoded, so a file
/// from a newer moepp is refused in one line rather than half-read.
public struct PlaygroundSession: Codable, Sendable {
    public static let currentVersion = 1

    public var version = PlaygroundSession.currentVersion
    public var model: ModelSummary
    /// The settings in force when the session was saved (what the next reply would use).
    public var settings: SessionSettings
    public var turns: [Turn]
    /// Every token the model read or wrote, in order (prompt and generated), with its routing.
    public var tokens: [TokenRouting]
    /// The settings every token was read or generated under: each entry holds from its
    /// `fromToken` until the next one (toggles apply from the next token, even mid-reply).
    public var settingsTimeline: [SettingsChange]
    public var throughput: Throughput

    public init(model: ModelSummary, settings: SessionSettings, turns: [Turn], tokens: [TokenRouting],
                settingsTimeline: [SettingsChange] = [], throughput: Throughput = Throughput()) {
        self.model = model
        self.settings = settings
        self.turns = turns
        self.tokens = tokens
        self.settingsTimeline = settingsTimeline
        self.throughput = throughput
    }

    public struct SettingsChange: Codable, Sendable, Equatable {
        /// Index into `tokens` of the first token run under `settings`.
        public var fromToken: Int
        public var settings: SessionSettings
        public init(fromToken: Int, settings: SessionSettings) { self.fromToken = fromToken; self.settings = settings }
    }

    /// The settings token `index` ran under (nil before the first entry).
    public func settings(ofToken index: Int) -> SessionSettings? { settingsTimeline.last { $0.fromToken <= index }?.settings }

    /// The model a session ran on: where it was, and the router's shape for readers without it.
    public struct ModelSummary: Codable, Sendable, Equatable {
        /// The path given to `--model` / `/model` (a directory or a .gguf file).
        public var path: String
        public var name: String
        public var family: String
        public var layers: Int
        /// Router slots per layer, and what each slot is.
        public var expertKinds: [ExpertKind]
        /// The checkpoint's own router top-k.
        public var topK: Int
        public var contextLength: Int
        /// How the records' weights were formed (routing, renormalisation, shared experts, dense
        /// layers); the records hold the outcome, each layer's `shared` the always-on weights.
        public var weightRule: WeightRule

        public init(path: String, name: String, config: ModelConfig) {
            self.path = path
            self.name = name
            family = config.family.rawValue
            layers = config.numLayers
            expertKinds = (0..<config.numExperts).map(config.kind(ofExpert:))
            topK = config.topK
            contextLength = config.maxPositionEmbeddings
            weightRule = config.weightRule
        }
    }

    /// One exchange. `firstToken` indexes `tokens` (the turn's first prompt token); each reply
    /// piece is a generated token's index with the text it added (empty inside a multi-byte
    /// character), so the chat can tint each piece by that token's FFN compute.
    public struct Turn: Codable, Sendable, Equatable {
        public var prompt: String
        public var reply: String
        public var firstToken: Int
        public var replyTokens: [ReplyPiece]
        /// What the chat said above the turn (the context window slid).
        public var notice: String?
        /// nil while the reply was still streaming when the session was written.
        public var finish: Finish?
        /// The settings when the turn was sent (toggles may change mid-reply: see `TokenRouting`).
        public var settings: SessionSettings?

        public init(prompt: String, reply: String, firstToken: Int, replyTokens: [ReplyPiece], notice: String? = nil,
                    finish: Finish? = nil, settings: SessionSettings? = nil) {
            self.prompt = prompt
            self.reply = reply
            self.firstToken = firstToken
            self.replyTokens = replyTokens
            self.notice = notice
            self.finish = finish
            self.settings = settings
        }
    }

    public struct ReplyPiece: Codable, Sendable, Equatable {
        public var index: Int
        public var text: String
        public init(index: Int, text: String) { self.index = index; self.text = text }
    }

    /// How a reply ended (the generator's `FinishReport`).
    public struct Finish: Codable, Sendable, Equatable {
        public var reason: FinishReport.Reason
        public var promptTokens: Int
        public var generatedTokens: Int
        public var promptSeconds: Double
        public var decodeSeconds: Double
        public var trailingText: String

        public init(_ report: FinishReport) {
            reason = report.reason
            promptTokens = report.promptTokens
            generatedTokens = report.generatedTokens
            promptSeconds = report.promptSeconds
            decodeSeconds = report.decodeSeconds
            trailingText = report.trailingText
        }

        public var report: FinishReport {
            FinishReport(reason: reason, promptTokens: promptTokens, generatedTokens: generatedTokens,
                         promptSeconds: promptSeconds, decodeSeconds: decodeSeconds, trailingText: trailingText)
        }
    }

    /// The throughput pane's figures (measured when the replies ran, not recomputable later).
    public struct Throughput: Codable, Sendable, Equatable {
        public var promptTokensPerSecond: Double = 0
        public var decodeTokensPerSecond: Double = 0
        /// Recent per-token decode rates, newest last.
        public var recentDecodeRates: [Double] = []
        public init(promptTokensPerSecond: Double = 0, decodeTokensPerSecond: Double = 0, recentDecodeRates: [Double] = []) {
            self.promptTokensPerSecond = promptTokensPerSecond
            self.decodeTokensPerSecond = decodeTokensPerSecond
            self.recentDecodeRates = recentDecodeRates
        }
    }
}

extension FinishReport.Reason: Codable {}

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
    public var throughput: Throughput

    public init(model: ModelSummary, settings: SessionSettings, turns: [Turn], tokens: [TokenRouting], throughput: Throughput = Throughput()) {
        self.model = model
        self.settings = settings
        self.turns = turns
        self.tokens = tokens
        self.throughput = throughput
    }

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

        public init(path: String, name: String, config: ModelConfig) {
            self.path = path
            self.name = name
            family = config.family.rawValue
            layers = config.numLayers
            expertKinds = (0..<config.numExperts).map(config.kind(ofExpert:))
            topK = config.topK
            contextLength = config.maxPositionEmbeddings
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

// MARK: - Reading and writing

public enum SessionFileError: Error, CustomStringConvertible, Equatable {
    case notASession(String)
    case unsupportedVersion(String, Int)
    case malformed(String, field: String, detail: String)

    public var description: String {
        switch self {
        case .notASession(let file): return "\(file): not a moepp session (no \"version\" field)"
        case let .unsupportedVersion(file, version):
            return "\(file): session version \(version) is not supported (this moepp reads version \(PlaygroundSession.currentVersion))"
        case let .malformed(file, field, detail): return "\(file): \(field.isEmpty ? "" : field + ": ")\(detail)"
        }
    }
}

extension PlaygroundSession {
    /// Sorted keys, slashes unescaped: stable for diffs; non-finite numbers are null (`FiniteOrNull`).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Decodes a session, checking `version` first; `file` names the source in errors.
    public static func decode(_ data: Data, file: String) throws -> PlaygroundSession {
        struct VersionOnly: Decodable { let version: Int? }
        guard let probe = try? JSONDecoder().decode(VersionOnly.self, from: data) else {
            throw SessionFileError.malformed(file, field: "", detail: "not a JSON object")
        }
        guard let version = probe.version else { throw SessionFileError.notASession(file) }
        guard version == currentVersion else { throw SessionFileError.unsupportedVersion(file, version) }
        do {
            return try JSONDecoder().decode(PlaygroundSession.self, from: data)
        } catch let error as DecodingError {
            throw SessionFileError.malformed(file, field: Self.path(of: error), detail: Self.reason(of: error))
        }
    }

    /// Reads a session file (no model needed).
    public static func load(from path: String) throws -> PlaygroundSession {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SessionFileError.malformed(path, field: "", detail: FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file")
        }
        return try decode(data, file: path)
    }

    /// "turns[2].prompt": where a decoding error happened, as a person would write it.
    static func path(of error: DecodingError) -> String {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c): return Self.path(c.codingPath + [key])
        @unknown default: return ""
        }
        return Self.path(context.codingPath)
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.reduce("") { path, key in
            if let index = key.intValue { return path + "[\(index)]" }
            return path.isEmpty ? key.stringValue : path + "." + key.stringValue
        }
    }

    static func reason(of error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, _): return "expected \(Self.typeName(type))"
        case .valueNotFound(let type, _): return "expected \(Self.typeName(type)), found null"
        case .keyNotFound: return "missing"
        case .dataCorrupted(let context): return context.debugDescription
        @unknown default: return "unreadable"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        default: return type is any Collection.Type ? "an array" : "an object"
        }
    }
}

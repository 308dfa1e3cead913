import Foundation

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
    /// Writes the session atomically to a regular file (see `SafeFileWrite`); an existing file
    /// only with `replace`.
    public func save(to path: String, replace: Bool) throws { try SafeFileWrite.write(try encoded(), to: path, replace: replace) }

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
        let session: PlaygroundSession
        do {
            session = try JSONDecoder().decode(PlaygroundSession.self, from: data)
        } catch let error as DecodingError {
            throw SessionFileError.malformed(file, field: Self.path(of: error), detail: Self.reason(of: error))
        }
        try session.checkConsistency(file: file)
        return session
    }

    /// Every index a reader follows stays inside the session: turns point at tokens, tokens have
    /// one record per layer, chosen experts are router slots. A hand-edited file fails here in one
    /// line instead of in a view.
    public func checkConsistency(file: String) throws {
        func fail(_ field: String, _ why: String) -> SessionFileError { .malformed(file, field: field, detail: why) }
        let experts = model.expertKinds.count
        guard model.layers >= 1, experts >= 1 else { throw fail("model", "needs at least one layer and one expert") }
        for (t, turn) in turns.enumerated() {
            guard (0...tokens.count).contains(turn.firstToken) else { throw fail("turns[\(t)].firstToken", "\(turn.firstToken) is outside 0…\(tokens.count)") }
            if let p = turn.replyTokens.firstIndex(where: { !(turn.firstToken..<tokens.count).contains($0.index) }) {
                throw fail("turns[\(t)].replyTokens[\(p)].index", "\(turn.replyTokens[p].index) is not a token of this turn")
            }
        }
        for (c, change) in settingsTimeline.enumerated() {
            let previous = c == 0 ? -1 : settingsTimeline[c - 1].fromToken
            guard change.fromToken > previous, change.fromToken < max(1, tokens.count) else {
                throw fail("settingsTimeline[\(c)].fromToken", "\(change.fromToken) is not after the previous entry and inside the tokens")
            }
        }
        for (i, token) in tokens.enumerated() {
            guard token.layers.count == model.layers else { throw fail("tokens[\(i)].layers", "\(token.layers.count) records, the model has \(model.layers) layers") }
            for (l, layer) in token.layers.enumerated() {
                let field = "tokens[\(i)].layers[\(l)]"
                guard layer.layer == l else { throw fail(field + ".layer", "\(layer.layer), expected \(l)") }
                if let c = layer.chosen.firstIndex(where: { !(0..<experts).contains($0.index) }) {
                    throw fail(field + ".chosen[\(c)].index", "\(layer.chosen[c].index) is outside 0…\(experts - 1)")
                }
                for (name, values) in [("probabilities", layer.probabilities), ("probabilitiesWithoutResidual", layer.probabilitiesWithoutResidual)]
                where !values.isEmpty && values.count != experts {
                    throw fail(field + "." + name, "\(values.count) values for \(experts) experts")
                }
                if layer.hasRouter && layer.probabilities.count != experts { throw fail(field + ".probabilities", "\(layer.probabilities.count) values for \(experts) experts") }
                if let p = layer.predictedExperts?.firstIndex(where: { !(0..<experts).contains($0) }) {
                    throw fail(field + ".predictedExperts[\(p)]", "\(layer.predictedExperts![p]) is outside 0…\(experts - 1)")
                }
                // Counters are summed over the session: absurd values would overflow the sums.
                guard (0...experts).contains(layer.ffnExpertsComputed) else { throw fail(field + ".ffnExpertsComputed", "\(layer.ffnExpertsComputed) is outside 0…\(experts)") }
                if let cache = layer.cache, ![cache.requests, cache.hits, cache.prefetchHits, cache.prefetchWaits, cache.misses, cache.prefetchLoads,
                                             cache.prefetchWasted, cache.bytesRead].allSatisfy({ (0...(1 << 48)).contains($0) }) {
                    throw fail(field + ".cache", "counters must be in 0…2^48")
                }
                if let c = layer.chosenWithoutResidual.firstIndex(where: { !(0..<experts).contains($0) }) {
                    throw fail(field + ".chosenWithoutResidual[\(c)]", "\(layer.chosenWithoutResidual[c]) is outside 0…\(experts - 1)")
                }
            }
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

import Foundation

/// The expert-usage heat map of a model accumulated across sessions and kept on disk, one JSON
/// file per model: `$XDG_CACHE_HOME/moepp/stats/<model id>.json` (else `~/.cache/moepp/…`).
/// The file is versioned and replaced atomically; each token is counted once: a trace is
/// recognised by a fingerprint of its tokens and choices, so reading the same trace twice, or a
/// continued session whose beginning was counted, does not count those tokens twice.
public struct ExpertUsageStore: Codable, Sendable, Equatable {
    public static let version = 1

    public var version = Self.version
    public var model: String
    public var usage: ExpertUsage
    /// Fingerprints of the traces counted so far.
    public var traces: [String] = []

    public init(model: String) {
        self.model = model
        usage = ExpertUsage(layers: 0, experts: 0)
    }

    /// The directory of the per-model files; nil without a home directory.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/moepp/stats" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.cache/moepp/stats" }
        return nil
    }

    /// A file name from a model id: characters other than letters, digits, `.`, `-`, `_` become `_`.
    public static func fileName(model: String) -> String {
        let safe = String(model.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        return (safe.isEmpty || safe.allSatisfy { $0 == "." } ? "unnamed" : safe) + ".json"
    }

    public static func load(model: String, directory: String) throws -> ExpertUsageStore {
        let path = directory + "/" + fileName(model: model)
        let contents: Data?
        do { contents = try SmallFile.contentsIfPresent(path, maximumBytes: 256 << 20) } catch let error as CheckpointError { throw TraceError(file: path, error.detail) }
        guard let data = contents else { return ExpertUsageStore(model: model) }
        let store: ExpertUsageStore
        do { store = try JSONDecoder().decode(ExpertUsageStore.self, from: data) } catch { throw TraceError.decoding(error, file: path) }
        guard store.version == Self.version else { throw TraceError(file: path, "version \(store.version), this moepp reads version \(Self.version)") }
        guard store.usage.counts.count == store.usage.tokens.count, Set(store.usage.counts.map(\.count)).count <= 1 else {
            throw TraceError(file: path, "usage: counts and tokens disagree in shape")
        }
        return store
    }

    public func save(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: directory + "/" + Self.fileName(model: model))
    }

    /// Counts the tokens of `trace` not counted before; returns whether any were added.
    ///
    /// A trace counted before adds nothing, and one that begins with a trace counted before (a
    /// session saved, re-loaded with `/load`, continued and quit again) adds only the tokens after
    /// the longest such beginning. A print is FNV-1a running over the tokens in order, so the
    /// print of a trace's first n tokens is the hash's state after token n: one pass finds them.
    @discardableResult
    public mutating func add(_ trace: RoutingTrace) -> Bool {
        let prints = Self.prefixFingerprints(trace)
        let counted = Set(traces)
        let skip = prints.lastIndex { counted.contains($0) }.map { $0 + 1 } ?? 0
        guard skip < trace.tokens.count else { return false }
        var rest = trace
        rest.tokens = Array(trace.tokens[skip...])
        usage.merge(ExpertUsage(rest))
        traces.append(prints[prints.count - 1])
        return true
    }

    /// FNV-1a (64-bit) over each token's position, id and text and its layer choices: equal
    /// traces, equal prints. Nothing else of a record (weights, logits, timings) goes in, so the
    /// same routing saved, loaded and saved again keeps its print.
    public static func fingerprint(_ trace: RoutingTrace) -> String {
        prefixFingerprints(trace).last ?? String(offsetBasis, radix: 16)
    }

    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    /// The print of the first n tokens, for n = 1…count (element n − 1).
    static func prefixFingerprints(_ trace: RoutingTrace) -> [String] {
        var hash = offsetBasis
        func mix(_ value: Int) {
            withUnsafeBytes(of: Int64(value).littleEndian) { for byte in $0 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 } }
        }
        return trace.tokens.map { token in
            mix(token.position); mix(token.tokenId)
            for byte in token.text.utf8 { mix(Int(byte)) }
            for layer in token.layers { mix(-2); for choice in layer.chosen { mix(choice.index) } }
            return String(hash, radix: 16)
        }
    }
}

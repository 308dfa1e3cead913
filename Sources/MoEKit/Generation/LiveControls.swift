import Foundation

/// Everything a user may change while tokens stream: routing knobs and sampling.
public struct GenerationSettings: Hashable, Sendable {
    public var routing = RoutingControls()
    public var sampling = SamplingSettings()

    public init(routing: RoutingControls = RoutingControls(), sampling: SamplingSettings = SamplingSettings()) {
        self.routing = routing
        self.sampling = sampling
    }
}

/// The settings box shared by a view (writer) and the generator (reader, once per token): a
/// lock around a small value, so a toggle takes effect at the next token and never mid-token.
public final class LiveControls: @unchecked Sendable {
    private let lock = NSLock()
    private var settings: GenerationSettings

    public init(_ settings: GenerationSettings = GenerationSettings()) { self.settings = settings }

    public var current: GenerationSettings {
        lock.lock()
        defer { lock.unlock() }
        return settings
    }

    public func update(_ change: (inout GenerationSettings) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change(&settings)
    }
}

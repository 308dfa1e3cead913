/// A saved session as a routing trace, for readers without a model (`moepp view`, `moepp stats`).
extension PlaygroundSession {
    /// The session's tokens with the model's name and router width: the width comes from the
    /// saved model summary, so experts no token chose still get their column.
    public var routingTrace: RoutingTrace {
        RoutingTrace(source: .moepp, model: model.name, turns: turns.map { RoutingTrace.Turn(prompt: $0.prompt, reply: $0.reply) },
                     tokens: tokens, experts: model.expertKinds.count)
    }

    /// True for JSON shaped like a session rather than a trace document: a session's `model` is
    /// an object (path, name, router shape), a trace document's a string.
    static func looksLikeSession(_ json: JSONValue) -> Bool { json.has("version") && json["model"].object != nil }
}

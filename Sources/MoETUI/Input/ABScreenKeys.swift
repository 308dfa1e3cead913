/// What a key does on the A/B screen. The same table dispatches the keys and writes the screen's
/// key bar, so they cannot disagree.
public enum ABScreenAction: Sendable {
    case close, flipMap, scrollLeft, scrollRight, layerUp, layerDown, centre
}

public enum ABScreenKeys {
    public static let bindings: [(keys: [Key], action: ABScreenAction, label: String)] = [
        ([.escape, .character("q")], .close, "back"),
        ([.character("m"), .tab], .flipMap, "map A/B"),
        ([.left], .scrollLeft, "tokens"),
        ([.right], .scrollRight, ""),
        ([.up], .layerUp, "layers"),
        ([.down], .layerDown, ""),
        ([.home], .centre, "divergence"),
    ]

    public static func action(for key: Key) -> ABScreenAction? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// "Esc/q back  m/Tab map A/B  ←/→ tokens  ↑/↓ layers  Home divergence": labelled bindings,
    /// an unlabelled one joining the key list of the one before it.
    public static var bar: String {
        var items: [(keys: [String], label: String)] = []
        for binding in bindings {
            let keys = binding.keys.map(\.label)
            if binding.label.isEmpty, !items.isEmpty { items[items.count - 1].keys += keys } else { items.append((keys, binding.label)) }
        }
        return items.map { $0.keys.joined(separator: "/") + " " + $0.label }.joined(separator: "  ")
    }
}

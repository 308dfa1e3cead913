/// What a key does. The same table dispatches keys and generates the help screen and key bar,
/// so they cannot disagree.
public enum Action: String, CaseIterable, Sendable {
    case help, closeOverlay, focusNext, focusPrevious, send, stop, quit
    case toggleZero, toggleCopy, toggleConstant, toggleResidual, toggleAdaptive, topKDown, topKUp, temperatureDown, temperatureUp
    case scrollUp, scrollDown, followTail, redraw, clear, statistics
}

public struct KeyBinding: Sendable {
    public let keys: [Key]
    public let action: Action
    public let summary: String
    /// Short name for the bottom key bar (nil: not shown there).
    public let barLabel: String?
}

public enum KeyTable {
    public static let bindings: [KeyBinding] = [
        KeyBinding(keys: [.function(1), .character("?")], action: .help, summary: "help (? when the prompt is empty)", barLabel: "Help"),
        KeyBinding(keys: [.escape], action: .closeOverlay, summary: "close help / leave the map", barLabel: nil),
        KeyBinding(keys: [.tab], action: .focusNext, summary: "focus next pane (prompt → routing map → chat)", barLabel: nil),
        KeyBinding(keys: [.backTab], action: .focusPrevious, summary: "focus previous pane", barLabel: nil),
        KeyBinding(keys: [.enter], action: .send, summary: "send the prompt or /command", barLabel: nil),
        KeyBinding(keys: [.control("c")], action: .stop, summary: "stop generating; idle: clear the prompt, or twice to quit", barLabel: nil),
        KeyBinding(keys: [.function(10), .control("d")], action: .quit, summary: "quit (Ctrl+D: on an empty prompt, else delete)", barLabel: "Quit"),
        KeyBinding(keys: [.function(2)], action: .toggleZero, summary: "zero experts on/off", barLabel: "Zero"),
        KeyBinding(keys: [.function(3)], action: .toggleCopy, summary: "copy experts on/off", barLabel: "Copy"),
        KeyBinding(keys: [.function(4)], action: .toggleConstant, summary: "constant experts on/off", barLabel: "Const"),
        KeyBinding(keys: [.function(5)], action: .toggleResidual, summary: "gating residual on/off", barLabel: "Resid"),
        KeyBinding(keys: [.function(11)], action: .toggleAdaptive, summary: "AdapMoE adaptive gating on/off (needs calibration.json)", barLabel: "Adapt"),
        KeyBinding(keys: [.function(6)], action: .topKDown, summary: "router top-k − 1", barLabel: "k−"),
        KeyBinding(keys: [.function(7)], action: .topKUp, summary: "router top-k + 1", barLabel: "k+"),
        KeyBinding(keys: [.function(8)], action: .temperatureDown, summary: "temperature − 0.1", barLabel: "T−"),
        KeyBinding(keys: [.function(9)], action: .temperatureUp, summary: "temperature + 0.1", barLabel: "T+"),
        KeyBinding(keys: [.pageUp, .wheelUp], action: .scrollUp, summary: "scroll the chat up", barLabel: nil),
        KeyBinding(keys: [.pageDown, .wheelDown], action: .scrollDown, summary: "scroll the chat down", barLabel: nil),
        KeyBinding(keys: [.end], action: .followTail, summary: "follow the newest token (chat and map)", barLabel: nil),
        KeyBinding(keys: [.control("l")], action: .redraw, summary: "redraw the screen", barLabel: nil),
        KeyBinding(keys: [.control("r")], action: .clear, summary: "clear the conversation (/clear)", barLabel: nil),
        KeyBinding(keys: [.function(12)], action: .statistics, summary: "routing statistics screen (/stats)", barLabel: "Stats"),
    ]

    public static func action(for key: Key) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// Help lines: keys, then what they do.
    public static var helpLines: [(keys: String, summary: String)] {
        bindings.map { ($0.keys.map(\.label).joined(separator: " / "), $0.summary) } + [
            ("←↑↓→ / Home / click", "map focused: move the routing-map cursor (Home: the first token)"),
            ("↑ ↓", "prompt focused: prompt history"),
            ("← → / Home / End", "prompt: move the caret (Ctrl+A / Ctrl+E too); Ctrl+U clears"),
            ("Alt+Enter / Ctrl+J", "prompt: a new line (a paste keeps its lines and arrives as one prompt)"),
            ("PgUp / PgDn (map)", "scroll the inspector when the layer has more experts than rows"),
        ]
    }
}

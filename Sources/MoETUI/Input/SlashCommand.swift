/// Commands typed at the prompt, e.g. `/zero off`, `/topk 1`, `/temp 0.7`, `/export trace.json`.
public enum SlashCommand: Equatable, Sendable {
    case zero(Bool), copy(Bool), constant(Bool), residual(Bool), expert(Int, Bool), adaptive(Double?)
    case topK(Int?), temperature(Float), topP(Float), seed(UInt64), maxTokens(Int)
    case clear, export(String, replace: Bool), help, quit, statistics

    public static let usage: [(String, String)] = [
        ("/zero on|off, /copy on|off, /constant on|off", "enable or disable a zero-computation expert kind"),
        ("/residual on|off", "gating residual"),
        ("/expert N on|off", "enable or disable expert N"),
        ("/adaptive on|off|ε", "AdapMoE adaptive gating (ε: loss budget per token and layer)"),
        ("/topk N | /topk model", "router top-k (model: the checkpoint's own)"),
        ("/temp T, /topp P, /seed S", "sampling temperature (0 = greedy), nucleus, seed"),
        ("/max N", "tokens per reply"),
        ("/clear", "forget the conversation"),
        ("/export FILE.json", "write the session's routing trace (a new file)"),
        ("/export! FILE.json", "… replacing an existing file"),
        ("/stats", "routing statistics: usage heat map, co-activation, top tokens (F12)"),
        ("/help, /quit", "this screen; leave"),
    ]

    /// Parses a line starting with "/"; the error names what was wrong.
    public static func parse(_ line: String) -> Result<SlashCommand, SlashCommandError> {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let name = words.first?.lowercased() else { return .failure(.init("empty command")) }
        let argument = words.count > 1 ? words[1] : nil
        func onOff() -> Result<Bool, SlashCommandError> {
            switch argument?.lowercased() {
            case "on", "1", "true": return .success(true)
            case "off", "0", "false": return .success(false)
            default: return .failure(.init("\(name): expected on or off"))
            }
        }
        switch name {
        case "/zero": return onOff().map { .zero($0) }
        case "/copy": return onOff().map { .copy($0) }
        case "/constant", "/const": return onOff().map { .constant($0) }
        case "/residual": return onOff().map { .residual($0) }
        case "/expert":
            guard let argument, let index = Int(argument), index >= 0, words.count == 3 else { return .failure(.init("/expert: expected /expert N on|off")) }
            switch words[2].lowercased() {
            case "on": return .success(.expert(index, true))
            case "off": return .success(.expert(index, false))
            default: return .failure(.init("/expert: expected on or off"))
            }
        case "/adaptive":
            switch argument?.lowercased() {
            case "off": return .success(.adaptive(nil))
            case "on": return .success(.adaptive(-1))
            default:
                guard let argument, let epsilon = Double(argument), epsilon > 0 else { return .failure(.init("/adaptive: expected on, off or a positive ε")) }
                return .success(.adaptive(epsilon))
            }
        case "/topk":
            if argument?.lowercased() == "model" { return .success(.topK(nil)) }
            guard let argument, let k = Int(argument), k >= 1 else { return .failure(.init("/topk: expected a number ≥ 1 or 'model'")) }
            return .success(.topK(k))
        case "/temp", "/temperature":
            guard let argument, let t = Float(argument), t >= 0, t <= 10 else { return .failure(.init("/temp: expected a number in 0…10")) }
            return .success(.temperature(t))
        case "/topp":
            guard let argument, let p = Float(argument), p > 0, p <= 1 else { return .failure(.init("/topp: expected a number in (0, 1]")) }
            return .success(.topP(p))
        case "/seed":
            guard let argument, let s = UInt64(argument) else { return .failure(.init("/seed: expected a non-negative integer")) }
            return .success(.seed(s))
        case "/max":
            guard let argument, let n = Int(argument), n >= 1, n <= 4096 else { return .failure(.init("/max: expected 1…4096")) }
            return .success(.maxTokens(n))
        case "/clear": return .success(.clear)
        case "/export", "/export!":
            guard argument != nil else { return .failure(.init("\(name): expected a file name")) }
            return .success(.export(words.dropFirst().joined(separator: " "), replace: name == "/export!"))
        case "/help": return .success(.help)
        case "/stats", "/statistics": return .success(.statistics)
        case "/quit", "/q", "/exit": return .success(.quit)
        default: return .failure(.init("unknown command \(name) (try /help)"))
        }
    }
}

public struct SlashCommandError: Error, Equatable, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}

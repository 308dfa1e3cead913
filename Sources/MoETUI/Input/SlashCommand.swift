import Foundation
import MoEKit

/// Commands typed at the prompt, e.g. `/zero off`, `/topk 1`, `/temp 0.7`, `/save s.json`.
public enum SlashCommand: Equatable, Sendable {
    case zero(Bool), copy(Bool), constant(Bool), residual(Bool), expert(Int, Bool), adaptive(Double?)
    case topK(Int?), temperature(Float), topP(Float), seed(UInt64), maxTokens(Int)
    case clear, retry, save(String, replace: Bool), load(String), model(String), help, quit, statistics
    /// `/ab SETTING`: replay the last prompt under the live toggles (A) and SETTING (B); nil: show the last A/B again.
    case ab([SettingChange]?)

    public static let usage: [(String, String)] = [
        ("/zero on|off, /copy on|off, /constant on|off", "enable or disable a zero-computation expert kind"),
        ("/residual on|off", "gating residual"),
        ("/expert N on|off", "enable or disable expert N"),
        ("/adaptive on|off|ε", "AdapMoE adaptive gating (ε: loss budget per token and layer)"),
        ("/topk N | /topk model", "router top-k (model: the checkpoint's own)"),
        ("/temp T, /topp P, /seed S", "sampling temperature (0 = greedy), nucleus, seed"),
        ("/max N", "tokens per reply"),
        ("/clear", "forget the conversation"),
        ("/retry", "regenerate the last reply with the current settings"),
        ("/save FILE.json (/export)", "save the session: conversation, settings, trace (a new file)"),
        ("/save! FILE.json", "… replacing an existing file"),
        ("/load FILE.json", "restore a saved session (and its model)"),
        ("/model DIR", "switch model; on an error the current one stays"),
        ("/ab SETTING (e.g. /ab zero=off), /ab", "A/B: last prompt, live toggles vs SETTING, greedy"),
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
        case "/retry": return .success(.retry)
        case "/save", "/save!", "/export", "/export!":
            guard let path = rest(words) else { return .failure(.init("\(name): expected a file name")) }
            return .success(.save(path, replace: name.hasSuffix("!")))
        case "/load":
            guard let path = rest(words) else { return .failure(.init("/load: expected a session file")) }
            return .success(.load(path))
        case "/model":
            guard let path = rest(words) else { return .failure(.init("/model: expected a model directory or .gguf file")) }
            return .success(.model(path))
        case "/ab":
            guard argument != nil else { return .success(.ab(nil)) }
            do { return .success(.ab(try SettingChange.parseList(words.dropFirst().joined(separator: " ")))) } catch { return .failure(.init("/ab: \(error)")) }
        case "/help": return .success(.help)
        case "/stats", "/statistics": return .success(.statistics)
        case "/quit", "/q", "/exit": return .success(.quit)
        default: return .failure(.init("unknown command \(name) (try /help)"))
        }
    }

    /// A path argument: the rest of the line (names may hold spaces), `~/` meaning the home directory.
    static func rest(_ words: [String]) -> String? {
        guard words.count > 1 else { return nil }
        let path = words.dropFirst().joined(separator: " ")
        return path.hasPrefix("~/") ? NSString(string: path).expandingTildeInPath : path
    }
}

public struct SlashCommandError: Error, Equatable, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}

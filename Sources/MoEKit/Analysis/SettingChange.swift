import Foundation

/// One change to the live settings, written `key=value` — the syntax of `moepp compare-settings
/// --a/--b` and the playground's `/ab`. A setting is a list of changes separated by commas or
/// spaces, applied left to right on top of a base (the model's defaults at temperature 0 for the
/// CLI, the live toggles for `/ab`); `same` (or nothing) is no change.
///
///   zero=on|off  copy=on|off  constant=on|off   one zero-computation kind (MoE++)
///   zc=on|off                                   all three zero-computation kinds at once
///   residual=on|off                             the MoE++ gating residual
///   top-k=N|model                               router top-k (model: the checkpoint's own)
///   adaptive=ε|off                              AdapMoE adaptive gating (needs calibration.json)
///   disable=N  enable=N                         expert N off / on, in every layer
///   temp=T  seed=S  top-p=P                     sampling
public enum SettingChange: Hashable, Sendable {
    case zero(Bool), copy(Bool), constant(Bool), zeroComputation(Bool)
    case residual(Bool)
    case topK(Int?)
    case adaptive(Double?)
    case disable(Int), enable(Int)
    case temperature(Float), seed(UInt64), topP(Float)

    /// The syntax summary, one line per key, for help text and the README.
    public static let syntax: [(String, String)] = [
        ("zero=on|off, copy=on|off, constant=on|off", "one zero-computation expert kind"),
        ("zc=on|off", "all zero-computation kinds at once"),
        ("residual=on|off", "the gating residual"),
        ("top-k=N|model", "router top-k (model: the checkpoint's own)"),
        ("adaptive=ε|off", "AdapMoE adaptive gating (needs calibration.json)"),
        ("disable=N, enable=N", "expert N off/on in every layer"),
        ("temp=T, seed=S, top-p=P", "sampling (both sides default to temp=0)"),
    ]

    /// Parses a whole setting, e.g. "zero=off, top-k=1". Errors name the offending item.
    public static func parseList(_ text: String) throws -> [SettingChange] {
        let items = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        if items == ["same"] { return [] }
        return try items.map(parse)
    }

    /// Parses one `key=value`.
    public static func parse(_ item: String) throws -> SettingChange {
        let parts = item.split(separator: "=", maxSplits: 1).map { String($0).lowercased() }
        guard parts.count == 2, !parts[1].isEmpty else { throw SettingError(item, "expected key=value (e.g. zero=off)") }
        let (key, value) = (parts[0], parts[1])
        func onOff() throws -> Bool {
            switch value {
            case "on", "1", "true": return true
            case "off", "0", "false": return false
            default: throw SettingError(item, "expected on or off")
            }
        }
        func expert() throws -> Int {
            guard let n = Int(value), n >= 0 else { throw SettingError(item, "expected an expert number ≥ 0") }
            return n
        }
        switch key {
        case "zero": return .zero(try onOff())
        case "copy": return .copy(try onOff())
        case "constant", "const": return .constant(try onOff())
        case "zc": return .zeroComputation(try onOff())
        case "residual": return .residual(try onOff())
        case "top-k", "topk":
            if value == "model" { return .topK(nil) }
            guard let k = Int(value), k >= 1 else { throw SettingError(item, "expected a number ≥ 1 or model") }
            return .topK(k)
        case "adaptive":
            if value == "off" { return .adaptive(nil) }
            guard let epsilon = Double(value), epsilon > 0, epsilon.isFinite else { throw SettingError(item, "expected a positive ε or off") }
            return .adaptive(epsilon)
        case "disable": return .disable(try expert())
        case "enable": return .enable(try expert())
        case "temp", "temperature":
            guard let t = Float(value), t >= 0, t <= 10 else { throw SettingError(item, "expected a temperature in 0…10") }
            return .temperature(t)
        case "seed":
            guard let s = UInt64(value) else { throw SettingError(item, "expected a non-negative integer") }
            return .seed(s)
        case "top-p", "topp":
            guard let p = Float(value), p > 0, p <= 1 else { throw SettingError(item, "expected a number in (0, 1]") }
            return .topP(p)
        default:
            throw SettingError(item, "unknown setting \(key) (known: zero, copy, constant, zc, residual, top-k, adaptive, disable, enable, temp, seed, top-p)")
        }
    }

    /// Applies the change to `settings` for `config`; adaptive gating needs the model's
    /// calibration. Refuses what the model cannot do, naming the change.
    public func apply(to settings: inout GenerationSettings, config: ModelConfig, calibration: Calibration?) throws {
        let item = description
        switch self {
        case .zero(let on), .copy(let on), .constant(let on), .zeroComputation(let on):
            guard config.hasZeroComputationExperts else { throw SettingError(item, "this model has no zero-computation experts") }
            if case .zero = self { settings.routing.mask.zeroEnabled = on }
            if case .copy = self { settings.routing.mask.copyEnabled = on }
            if case .constant = self { settings.routing.mask.constantEnabled = on }
            if case .zeroComputation = self {
                settings.routing.mask.zeroEnabled = on
                settings.routing.mask.copyEnabled = on
                settings.routing.mask.constantEnabled = on
            }
        case .residual(let on): settings.routing.gatingResidual = on
        case .topK(let k):
            if let k, k > config.numExperts { throw SettingError(item, "the model has \(config.numExperts) experts") }
            settings.routing.topK = k == config.topK ? nil : k
        case .adaptive(let epsilon):
            guard let epsilon else { settings.routing.adaptiveGate = nil; break }
            guard let calibration else { throw SettingError(item, "no calibration.json for this model; run `moepp calibrate` first") }
            guard calibration.layers.count == config.numLayers else {
                throw SettingError(item, "calibration.json has \(calibration.layers.count) layers, the model \(config.numLayers)")
            }
            settings.routing.adaptiveGate = AdaptiveGate(calibration: calibration, epsilon: epsilon)
        case .disable(let n), .enable(let n):
            guard n < config.numExperts else { throw SettingError(item, "the model has experts 0…\(config.numExperts - 1)") }
            if case .disable = self { settings.routing.mask.disabledExperts.insert(n) } else { settings.routing.mask.disabledExperts.remove(n) }
        case .temperature(let t): settings.sampling.temperature = t
        case .seed(let s): settings.sampling.seed = s
        case .topP(let p): settings.sampling.topP = p
        }
        do { try settings.routing.mask.check(config) } catch { throw SettingError(item, "\(error)") }
    }

    /// Applies a list of changes in order.
    public static func apply(_ changes: [SettingChange], to settings: GenerationSettings, config: ModelConfig,
                             calibration: Calibration?) throws -> GenerationSettings {
        var result = settings
        for change in changes { try change.apply(to: &result, config: config, calibration: calibration) }
        return result
    }
}

extension SettingChange: CustomStringConvertible {
    /// The canonical `key=value` spelling (what `parse` reads back).
    public var description: String {
        func onOff(_ on: Bool) -> String { on ? "on" : "off" }
        switch self {
        case .zero(let on): return "zero=\(onOff(on))"
        case .copy(let on): return "copy=\(onOff(on))"
        case .constant(let on): return "constant=\(onOff(on))"
        case .zeroComputation(let on): return "zc=\(onOff(on))"
        case .residual(let on): return "residual=\(onOff(on))"
        case .topK(let k): return "top-k=\(k.map(String.init) ?? "model")"
        case .adaptive(let epsilon): return "adaptive=\(epsilon.map { "\($0)" } ?? "off")"
        case .disable(let n): return "disable=\(n)"
        case .enable(let n): return "enable=\(n)"
        case .temperature(let t): return "temp=\(t)"
        case .seed(let s): return "seed=\(s)"
        case .topP(let p): return "top-p=\(p)"
        }
    }

    /// A list of changes as one setting ("same" when empty).
    public static func describe(_ changes: [SettingChange]) -> String {
        changes.isEmpty ? "same" : changes.map(\.description).joined(separator: ",")
    }
}

/// A setting that cannot be read or applied: names the item and why, in one line.
public struct SettingError: Error, CustomStringConvertible, Equatable {
    public let item: String
    public let reason: String

    public init(_ item: String, _ reason: String) {
        self.item = item
        self.reason = reason
    }

    public var description: String { "setting '\(item)': \(reason)" }
}

import Foundation
import MoEKit

/// The toggles as they stand, a transient message, and the key bar generated from the key table.
public enum StatusBarView {
    public static func draw(into grid: inout CellGrid, row: Int, keyBarRow: Int, _ state: PlaygroundState) {
        let mask = state.settings.routing.mask
        let sampling = state.settings.sampling
        func flag(_ name: String, _ on: Bool) -> (String, Style) { ("\(name) \(on ? "on" : "OFF")", on ? Style(.good) : Style(.error, bold: true)) }
        var parts: [(String, Style)] = []
        // Only the toggles this model can use: its zero-computation kinds, its gating residual.
        let categories = state.config.expertCategories
        if categories.contains(.zero) { parts.append(flag("zero", mask.zeroEnabled)) }
        if categories.contains(.copy) { parts.append(flag("copy", mask.copyEnabled)) }
        if categories.contains(.constant) { parts.append(flag("const", mask.constantEnabled)) }
        if state.config.hasGatingResidual { parts.append(flag("resid", state.settings.routing.gatingResidual)) }
        if state.calibration != nil {
            let k = state.settings.routing.topK ?? state.config.topK
            if state.settings.routing.adaptiveGate == nil {
                parts.append(("adapt off", Style(.muted)))
            } else if AdaptiveGate.inactiveReason(topK: k) != nil {
                parts.append(("adapt idle at k=\(k)", Style(.error, bold: true)))
            } else {
                parts.append(("adapt ε=\(state.adaptiveEpsilon)", Style(.accent, bold: true)))
            }
        }
        if !mask.disabledExperts.isEmpty { parts.append(("off: " + mask.disabledExperts.sorted().map(String.init).joined(separator: ","), Style(.error))) }
        parts.append(("k=\(state.settings.routing.topK ?? state.config.topK)", Style(bold: true)))
        parts.append((sampling.temperature == 0 ? "greedy" : String(format: "T=%.1f", sampling.temperature), Style(bold: true)))
        if sampling.topP < 1 { parts.append((String(format: "p=%.2f", sampling.topP), Style())) }
        parts.append(("max \(state.maxTokens)", Style()))
        grid.fill(Rect(x: 0, y: row, width: grid.width, height: 1))
        var x = 0
        for (text, style) in parts { x += grid.put(text, row: row, column: x, style: style); x += grid.put("  ", row: row, column: x) }
        if let status = state.status {
            grid.put("│ " + status.text, row: row, column: x, style: status.isError ? Style(.error, bold: true) : Style(.accent), limit: grid.width - x)
        }
        var keyX = 0
        // Whole entries only: one that does not fit is left out, and the bar ends in the mark.
        for binding in KeyTable.bindings where isAvailable(binding.action, state) {
            guard let label = binding.barLabel, let key = binding.keys.first else { continue }
            let entry = DisplayWidth.of(key.label) + DisplayWidth.of(" " + label + "  ")
            guard keyX + entry < grid.width else { grid.put(grid.glyphs.ellipsis, row: keyBarRow, column: keyX); return }
            keyX += grid.put(key.label, row: keyBarRow, column: keyX, style: Style(reverse: true))
            keyX += grid.put(" " + label + "  ", row: keyBarRow, column: keyX)
        }
        grid.put("Tab focus  Enter send  /help", row: keyBarRow, column: keyX, style: Style(.muted))
    }

    /// Does this key do anything for the loaded model? Toggles of expert kinds it lacks, of a
    /// gating residual it lacks, or of adaptive gating without a calibration are left off the bar
    /// (help still lists every key).
    static func isAvailable(_ action: Action, _ state: PlaygroundState) -> Bool {
        let categories = state.config.expertCategories
        switch action {
        case .toggleZero: return categories.contains(.zero)
        case .toggleCopy: return categories.contains(.copy)
        case .toggleConstant: return categories.contains(.constant)
        case .toggleResidual: return state.config.hasGatingResidual
        case .toggleAdaptive: return state.calibration != nil
        default: return true
        }
    }
}

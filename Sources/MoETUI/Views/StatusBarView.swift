import Foundation
import MoEKit

/// The toggles as they stand, a transient message, and the key bar generated from the key table.
public enum StatusBarView {
    public static func draw(into grid: inout CellGrid, row: Int, keyBarRow: Int, _ state: PlaygroundState) {
        let mask = state.settings.routing.mask
        let sampling = state.settings.sampling
        func flag(_ name: String, _ on: Bool) -> (String, Style) { ("\(name) \(on ? "on" : "OFF")", on ? Style(.good) : Style(.error, bold: true)) }
        var parts: [(String, Style)] = []
        if state.config.hasZeroComputationExperts {
            parts += [flag("zero", mask.zeroEnabled), flag("copy", mask.copyEnabled), flag("const", mask.constantEnabled), flag("resid", state.settings.routing.gatingResidual)]
        }
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
        for binding in KeyTable.bindings {
            guard let label = binding.barLabel, let key = binding.keys.first else { continue }
            keyX += grid.put(key.label, row: keyBarRow, column: keyX, style: Style(reverse: true))
            keyX += grid.put(" " + label + "  ", row: keyBarRow, column: keyX)
        }
        grid.put("Tab focus  Enter send  /help", row: keyBarRow, column: keyX, style: Style(.muted))
    }
}

import MoEKit

/// The inspector for a trace that recorded only which experts were chosen (vLLM's and SGLang's
/// routed experts): the chosen ids, and what the trace cannot show.
extension InspectorView {
    static func drawChoicesOnly(into grid: inout CellGrid, _ area: Rect, _ layer: LayerRouting, _ state: PlaygroundState) {
        let names = layer.chosen.map { state.config.kind(ofExpert: min($0.index, state.config.numExperts - 1)).description + ($0.weight.isFinite ? String(format: " %.2f", $0.weight) : "") }
        grid.put("chosen: " + (names.isEmpty ? "none" : names.joined(separator: ", ")), row: area.y + 1, column: area.x, style: Style(.accent, bold: true), limit: area.width)
        grid.put("\(state.traceSource.rawValue) trace: chosen expert ids only — no logits, probabilities, weights,",
                 row: area.y + 3, column: area.x, style: Style(.muted), limit: area.width)
        grid.put("zero-computation kinds or gating residual (README: traces from other engines)",
                 row: area.y + 4, column: area.x, style: Style(.muted), limit: area.width)
    }
}

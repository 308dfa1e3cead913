/// One layer's per-expert load as a row of bar glyphs, readable at 64–128 experts: each cell is
/// one expert (or the busiest of `perCell` neighbours when the row is narrower than the layer),
/// its height the expert's load relative to an even split (`RoutingStatistics.relativeLoad`):
///   level = min(7, ⌊2 · load⌋)   so ▃ is about its fair share and █ is 3.5× or more;
/// an expert never chosen shows a dot (a blank in ASCII, whose lowest bar is `_`), so idle never
/// looks like low.
struct LoadStrip {
    var cells: [(text: String, style: Style)]
    let perCell: Int

    /// Experts per cell for `experts` in `width` cells.
    static func perCell(experts: Int, width: Int) -> Int { max(1, (experts + max(1, width) - 1) / max(1, width)) }

    init(_ loads: [Double], width: Int, glyphs: Glyphs) {
        let perCell = Self.perCell(experts: loads.count, width: width)
        self.perCell = perCell
        let levels = glyphs.sparkline
        cells = stride(from: 0, to: loads.count, by: perCell).map { start in
            let load = loads[start..<min(loads.count, start + perCell)].max() ?? 0
            guard load > 0 else { return (glyphs.isUnicode ? "·" : " ", Style(.muted, dim: true)) }
            let level = min(levels.count - 1, Int(load * 2))
            let style = load >= 2 ? Style(.hot, bold: true) : load < 0.5 ? Style(.cool) : Style(.ffn)
            return (levels[level], style)
        }
    }
}

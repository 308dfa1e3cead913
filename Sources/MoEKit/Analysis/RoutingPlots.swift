import Foundation

/// The statistics as SVG files a user opens in a browser: the usage heat map (layers × experts)
/// and a layer's co-activation matrix (experts × experts). Each cell has a tooltip with its
/// numbers; the colour scale runs from white (0) to the map's largest value.
public enum RoutingPlots {
    static let cell = 12.0, margin = 60.0

    public static func heatMap(_ usage: ExpertUsage, title: String) -> String {
        let top = usage.maximumShare
        let width = Int(margin * 2 + Double(usage.experts) * cell), height = Int(margin * 2 + Double(usage.layers) * cell)
        var svg = SVGWriter(width: max(width, 360), height: height)
        svg.text(title, x: margin, y: 20, size: 13)
        svg.text(String(format: "share of tokens choosing each expert (darkest = %.1f%%)", top * 100), x: margin, y: 36, size: 10)
        for l in 0..<usage.layers {
            let y = margin + Double(l) * cell
            if usage.layers <= 64 || l % 4 == 0 { svg.text("L\(l)", x: margin - 4, y: y + cell - 2, size: 9, anchor: .end) }
            for e in 0..<usage.experts {
                let share = usage.share(layer: l, expert: e)
                svg.rect(x: margin + Double(e) * cell, y: y, width: cell, height: cell, fill: SVGWriter.shade(top > 0 ? share / top : 0),
                         title: String(format: "layer %d, expert %d: %d of %d tokens (%.1f%%)", l, e, usage.counts[l][e], usage.tokens[l], share * 100))
            }
        }
        expertTicks(&svg, experts: usage.experts, y: margin + Double(usage.layers) * cell + 12)
        return svg.document
    }

    public static func coActivation(_ matrix: CoActivation, title: String) -> String {
        let experts = matrix.together.count
        let top = Double(matrix.maximumPair)
        let side = Int(margin * 2 + Double(experts) * cell)
        var svg = SVGWriter(width: max(side, 360), height: side)
        svg.text(title, x: margin, y: 20, size: 13)
        svg.text("tokens choosing both experts (diagonal: usage, outlined grey; darkest = \(Int(top)) tokens)", x: margin, y: 36, size: 10)
        for i in 0..<experts {
            for j in 0..<experts {
                let count = matrix.together[i][j]
                let fill = i == j ? "#d0d0d0" : SVGWriter.shade(top > 0 ? Double(count) / top : 0)
                let lift = matrix.lift(i, j).map { String(format: ", lift %.2f", $0) } ?? ""
                svg.rect(x: margin + Double(j) * cell, y: margin + Double(i) * cell, width: cell, height: cell, fill: fill,
                         title: i == j ? "expert \(i): \(count) tokens" : "experts \(i) and \(j): \(count) tokens together\(lift)")
            }
            if experts <= 64 || i % 8 == 0 { svg.text("\(i)", x: margin - 4, y: margin + Double(i) * cell + cell - 2, size: 9, anchor: .end) }
        }
        expertTicks(&svg, experts: experts, y: margin + Double(experts) * cell + 12)
        return svg.document
    }

    /// Expert numbers under the columns: every one up to 32 experts, else every 8th.
    static func expertTicks(_ svg: inout SVGWriter, experts: Int, y: Double) {
        let step = experts <= 32 ? 1 : 8
        for e in stride(from: 0, to: experts, by: step) { svg.text("\(e)", x: margin + (Double(e) + 0.5) * cell, y: y, size: 9, anchor: .middle) }
    }
}

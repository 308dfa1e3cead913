import MoEKit

/// What one routing-map cell says about one token at one layer, in at most `width` cells.
///
/// List form (top-k ≤ 3 of at most 36 FFN experts, the always-on ones included): each chosen
/// expert's glyph, then S for each shared expert; a slot whose final weight is 0 is dimmed.
/// Summary form (fine-grained MoE: OLMoE 8 of 64, Qwen3 8 of 128, DeepSeek 6 of 64 + shared):
///   the number of FFN experts that ran, tinted by that number over the slots filled
///   (`ExpertGlyph.heat`: a vanilla MoE is hot, zero-computation slots cool it down),
///   then the glyph of the zero-computation kind that took the most slots (if any),
///   then S when shared experts are always on. The inspector lists every expert.
/// Whatever does not fit ends in the ellipsis mark.
struct MapCell {
    struct Piece: Equatable { var text: String; var style: Style }

    var pieces: [Piece]

    /// Summary form for models a list cannot show: more than 3 glyphs, or ids beyond `z`.
    static func usesSummary(_ config: ModelConfig, width: Int) -> Bool {
        !ExpertGlyph.fitsOneCell(config) || config.topK + config.sharedExperts > width
    }

    init(_ routing: LayerRouting, config: ModelConfig, width: Int, ellipsis: String) {
        let pieces = Self.usesSummary(config, width: width) ? Self.summary(routing) : Self.list(routing)
        self.pieces = Self.fit(pieces, width: width, ellipsis: ellipsis)
    }

    static func list(_ routing: LayerRouting) -> [Piece] {
        (routing.chosen + routing.shared).map { choice in
            Piece(text: ExpertGlyph.glyph(choice.kind), style: Style(ExpertGlyph.color(choice.kind), bold: choice.weight >= 0.5, dim: choice.weight == 0))
        }
    }

    static func summary(_ routing: LayerRouting) -> [Piece] {
        var pieces: [Piece] = []
        if routing.hasRouter {
            let computed = routing.ffnExpertsComputed
            let ratio = routing.chosen.isEmpty ? 0 : Double(computed) / Double(routing.chosen.count)
            pieces.append(Piece(text: String(computed), style: ExpertGlyph.heat(ratio: ratio)))
            let zeroComputation = routing.chosen.filter { !$0.kind.isFFN }
            var counts: [ExpertKind.Category: Int] = [:]
            for choice in zeroComputation { counts[choice.kind.category, default: 0] += 1 }
            // The most used kind; ties go to the one listed first (zero, copy, constant).
            if let top = ExpertKind.Category.allCases.filter({ counts[$0] != nil }).max(by: { counts[$0]! < counts[$1]! }),
               let sample = zeroComputation.first(where: { $0.kind.category == top }) {
                pieces.append(Piece(text: ExpertGlyph.glyph(sample.kind), style: Style(ExpertGlyph.color(sample.kind), bold: true)))
            }
        }
        if !routing.shared.isEmpty { pieces.append(Piece(text: "S", style: Style(.ffn, bold: true))) }
        return pieces
    }

    /// Pieces up to `width` cells; when something is left out, the last cell becomes the mark.
    static func fit(_ pieces: [Piece], width: Int, ellipsis: String) -> [Piece] {
        var shown: [Piece] = []
        var used = 0
        for piece in pieces {
            let cells = piece.text.count
            if used + cells > width {
                while used + 1 > width, let last = shown.popLast() { used -= last.text.count }
                shown.append(Piece(text: ellipsis, style: Style(.muted, bold: true)))
                return shown
            }
            shown.append(piece)
            used += cells
        }
        return shown
    }
}

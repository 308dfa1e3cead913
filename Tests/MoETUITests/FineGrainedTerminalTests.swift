import Foundation
import Testing
import TestHelpers
@testable import MoEKit

extension TerminalEndToEndTests {
    /// A Qwen2-MoE checkpoint shaped like fine-grained MoE — 64 experts, top-8, a gated shared
    /// expert, a dense first layer — with seeded random weights (about 3 MB, written per run).
    static func writeFineGrainedModel(to directory: String) throws {
        let config = FineGrainedViewTests.fineGrainedConfig(layers: 3, sharedExperts: 1)
        try RandomCheckpoint.write(config: config, to: directory, seed: 11)
    }

    @Test("a fine-grained model (top-8 of 64 + shared): summary cells, no Z/C/K toggles, the inspector scrolls, the export has the rule")
    func fineGrainedSession() throws {
        let model = ScratchSpace.directory + "moepp-e2e-fine-\(getpid())"
        try Self.writeFineGrainedModel(to: model)
        let trace = ScratchSpace.directory + "moepp-e2e-fine-trace-\(getpid()).json"
        try startShell()
        defer { endShell() }
        try type("\(binary) chat --model \(model) --temperature 0; echo EXIT=$?")
        try keys("Enter")
        // The key bar is the last line drawn: under a full suite's load a capture can come between.
        let opened = try waitFor("the playground") { screen in
            screen.contains("Routing map") && screen.contains("Inspector") && screen.split(separator: "\n").contains { $0.hasPrefix("F1 ") }
        }
        let lines = opened.split(separator: "\n").map(String.init)
        let keyBar = lines.last { $0.hasPrefix("F1 ") } ?? ""
        #expect(!keyBar.contains("Zero") && !keyBar.contains("Resid") && keyBar.contains("F7 k+"), "\(keyBar)")
        #expect(opened.contains("N FFN experts run · S always on") && !opened.contains("Z zero"))

        try type("/max 8")
        try keys("Enter")
        try type("the cat")
        try keys("Enter")
        // Before any reply the pane reads "decode 0.0 tok/s (last reply)".
        let replied = try waitFor("a reply") { $0.contains("(last reply)") && !$0.contains("decode 0.0 tok/s") && self.idle($0) }
        // Layer 0 is dense (S); layers 1 and 2 ran their top-8 FFN experts beside the shared one (8S).
        // The map's rows come first; the layer statistics' rows (also "L0 …") follow.
        let mapRows = Array(replied.split(separator: "\n").filter { $0.contains("││L") }.map(String.init).prefix(3))
        #expect(mapRows.map { $0.components(separatedBy: "││").last!.prefix(2) } == ["L0", "L1", "L2"], "\(mapRows)")
        for row in mapRows {
            let cells = row.components(separatedBy: "││").dropFirst().first?.split(separator: "│").first.map(String.init) ?? ""
            let expected = cells.hasPrefix("L0") ? "S   S" : "8S  8S"
            #expect(cells.contains(expected) && !cells.contains { "ZCK".contains($0) }, "\(row)")
        }
        #expect(replied.contains("dense layer, no router") && !replied.contains("slot shares") && replied.contains("busiest"))

        try keys("F5")
        try waitFor("the refusal") { $0.contains("this model has no gating residual") }
        // The map's cursor on layer 1: the shared expert first, the ranked experts, and how many more.
        try keys("Tab")
        try keys("Down")
        try waitFor("layer 1 in the inspector") { $0.contains("shared0 always on") && $0.contains(" more (map focused: PgUp/PgDn)") }
        try keys("NPage")
        let scrolled = try waitFor("the inspector scrolled") { $0.contains(" above, ") }
        #expect(!scrolled.contains("shared0 always on"), "the shared rows scrolled out of view")

        try type("/export \(trace)")
        try keys("Enter")
        try waitFor("the export") { $0.contains("saved ") && $0.contains(" tokens to ") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) as? [String: Any]
        let rule = (json?["model"] as? [String: Any])?["weightRule"] as? [String: Any]
        #expect(rule?["topK"] as? Int == 8 && rule?["experts"] as? Int == 64 && rule?["sharedExperts"] as? Int == 1)
        #expect(rule?["sharedExpertWeight"] as? String == "sigmoid gate" && rule?["denseLayers"] as? [Int] == [0])
        let layers = ((json?["tokens"] as? [[String: Any]])?.last?["layers"] as? [[String: Any]]) ?? []
        #expect(layers.count == 3)
        #expect(layers.dropFirst().allSatisfy { ($0["chosen"] as? [Any])?.count == 8 && ($0["shared"] as? [[String: Any]])?.first?["kind"] as? String == "shared0" })

        try keys("C-d")
        try waitFor("a clean shell") { $0.contains("EXIT=0") && !$0.contains("Routing map") }
    }
}

import Foundation
import Testing
@testable import MoEKit

extension CommandLineTests {
    @Test("compare-settings prints a typed JSON comparison and refuses bad settings in one line")
    func compareSettings() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 2)
        let result = try TestSupport.run(["compare-settings", "--model", directory, "--prompt", "the cat", "--b", "zero=off, residual=off",
                                          "--max-tokens", "6", "--repeats", "2", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let comparison = try JSONDecoder().decode(SettingsComparison.self, from: Data(result.stdout.utf8))
        #expect(comparison.a.setting == "same" && comparison.b.setting == "zero=off,residual=off")
        #expect(!comparison.b.settings.zeroExperts && !comparison.b.settings.gatingResidual && comparison.b.settings.temperature == 0)
        #expect(comparison.a.decodeRates.count == 2 && comparison.b.decodeRates.count == 2)
        #expect(comparison.a.trace.count == comparison.promptTokens + comparison.a.tokenIds.count)
        #expect(!comparison.b.trace.contains { $0.layers.contains { $0.chosen.contains { $0.kind == .zero } } }, "B ran with zero experts off")
        let text = try TestSupport.run(["compare-settings", "--model", directory, "--prompt", "the cat", "--b", "top-k=1", "--max-tokens", "4"])
        #expect(text.status == 0 && text.stdout.contains("| L1 |") && text.stdout.contains("FFN experts/token: A "))
        try expectOneLineError(["compare-settings", "--model", directory, "--prompt", "x", "--b", "top-k=0"], mentions: ["--b", "top-k=0", "≥ 1"])
        try expectOneLineError(["compare-settings", "--model", directory, "--prompt", "x", "--a", "disable=99", "--b", "same"], mentions: ["--a", "disable=99"])
        try expectOneLineError(["compare-settings", "--model", directory, "--prompt", "x", "--b", "adaptive=0.1"], mentions: ["calibration.json"])
        try expectOneLineError(["compare-settings", "--model", directory, "--b", "zero=off"], mentions: ["--prompt"])
        try expectOneLineError(["compare-settings", "--model", directory, "--prompt-file", "/nonexistent/p.txt", "--b", "zero=off"], mentions: ["/nonexistent/p.txt"])
    }
}

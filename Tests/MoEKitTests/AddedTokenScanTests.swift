import Foundation
import Testing
@testable import MoEKit

/// Added tokens are found through a byte trie (`Tokenizer.addedTrie`); the linear scan it replaced
/// — every added token tried at every character — is kept here as the reference it must equal.
/// DeepSeek-V3's vocabulary has 818 added tokens, so the scan cost 818 comparisons a character.
/// The test prints both times (BENCHMARKS.md, "Added-token scan"): for 64 KB run
/// `MOEPP_ADDED_TOKEN_BENCH_BYTES=65536 swift test --skip-build --filter AddedTokenScanTests`;
/// without it 4 KB, so that the linear scan adds seconds, not half a minute, to the suite.
@Suite struct AddedTokenScanTests {
    /// The encoder before the trie: the first of the added tokens (longest first) that `rest` starts with.
    static func linearScan(_ tokenizer: Tokenizer, _ text: String) -> [Int] {
        var ids: [Int] = []
        var segment = ""
        var rest = Substring(text)
        var sectionStart = 0
        while !rest.isEmpty {
            if let added = tokenizer.addedTokens.first(where: { rest.utf8.starts(with: $0.content.utf8) && !$0.content.isEmpty }) {
                ids += tokenizer.encodePlain(segment, startsText: sectionStart == 0)
                segment = ""
                sectionStart = text.utf8.count - rest.utf8.count + added.content.utf8.count
                ids.append(added.id)
                rest = Substring(rest.utf8.dropFirst(added.content.utf8.count))
            } else {
                segment.unicodeScalars.append(rest.unicodeScalars.first!)
                rest = Substring(rest.unicodeScalars.dropFirst())
            }
        }
        return ids + tokenizer.encodePlain(segment, startsText: sectionStart == 0)
    }

    /// The DeepSeek-V3 fixture's vocabulary with 818 added tokens spelled as DeepSeek's are,
    /// some of them prefixes of others, so that the longest match decides.
    static func tokenizer() throws -> Tokenizer {
        let base = try Tokenizer.load(path: TestSupport.fixture("hf-tokenizer-pretok/deepseek-v3/tokenizer.json"))
        var contents = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜", "<｜place", "<|", "ab"]
        contents += (0..<812).map { "<｜place▁holder▁no▁\($0)｜>" }
        let added = contents.enumerated().map { Tokenizer.AddedToken(content: $1, id: base.model.tokens.count + $0, special: $0 != 5) }
        return Tokenizer(style: base.style, model: base.model, addedTokens: added)
    }

    @Test("encoding through the trie equals the linear scan on texts full of added tokens and their prefixes")
    func trieEqualsScan() throws {
        let tokenizer = try Self.tokenizer()
        let pool = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜place▁holder▁no▁7｜>", "<｜place▁holder▁no▁811｜>",
                    "<｜place▁holder▁no▁", "<｜", "<｜pla", "<", "｜", "<|", "ab", "a", "b", "abc", " x", "漢字", "12345", "\n", "é", "😀"]
        var generator = SeededRandom(seed: 3)
        for _ in 0..<500 {
            let text = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pool.randomElement(using: &generator)! }.joined()
            #expect(tokenizer.encode(text) == Self.linearScan(tokenizer, text), "\(text.debugDescription)")
        }
    }

    @Test("prints the time to encode a text with 818 added tokens, trie against linear scan")
    func timing() throws {
        let tokenizer = try Self.tokenizer()
        let bytes = ProcessInfo.processInfo.environment["MOEPP_ADDED_TOKEN_BENCH_BYTES"].flatMap { Int($0) } ?? 4096
        var text = ""
        while text.utf8.count < bytes { text += "The year 2024 had 365 days; 漢字カナ <｜place▁holder▁no▁42｜> x_1 += 7\n" }
        func seconds(_ body: () -> [Int]) -> (Double, [Int]) {
            let start = DispatchTime.now().uptimeNanoseconds
            let ids = body()
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, ids)
        }
        let (trie, trieIds) = seconds { tokenizer.encode(text) }
        let (scan, scanIds) = seconds { Self.linearScan(tokenizer, text) }
        #expect(trieIds == scanIds)
        print(String(format: "added-token scan, %d bytes, %d added tokens: trie %.3f s, linear scan %.3f s",
                     text.utf8.count, tokenizer.addedTokens.count, trie, scan))
    }
}

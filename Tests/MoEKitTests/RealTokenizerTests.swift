import Foundation
import Testing
@testable import MoEKit

/// The real DeepSeek LLM/V2, DeepSeek-V3 and Llama 3.2 tokenizer.json files (multi-megabyte, so not
/// committed) encode as the `tokenizers` library does. Runs when `MOEPP_REAL_TOKENIZERS` names
/// the directory `Scripts/real_tokenizer_ids.py` wrote (`make real-tokenizer-check`).
@Suite struct RealTokenizerTests {
    static let directory = ProcessInfo.processInfo.environment["MOEPP_REAL_TOKENIZERS"]

    struct Expected: Decodable { let texts: [String]; let ids: [String: [[Int]]] }

    @Test("real tokenizer.json files give the library's ids", .enabled(if: directory != nil),
          arguments: [ByteLevelSplit.deepseekLLM, .deepseekV3, .llama3])
    func realFiles(split: ByteLevelSplit) throws {
        let directory = try #require(Self.directory)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/expected.json")))
        let tokenizer = try Tokenizer.load(path: "\(directory)/\(split.rawValue)/tokenizer.json")
        #expect(tokenizer.style == .byteLevel(split))
        let ids = try #require(expected.ids[split.rawValue])
        #expect(ids.count == expected.texts.count && ids.count > 2000)
        for (text, reference) in zip(expected.texts, ids) {
            #expect(tokenizer.encode(text) == reference, "\(split) \(text.debugDescription)")
        }
    }
}

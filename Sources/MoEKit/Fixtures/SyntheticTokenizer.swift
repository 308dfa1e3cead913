import Foundation

/// A SentencePiece `tokenizer.model` of any vocabulary size for synthetic checkpoints, shaped
/// like LLaMA's: `<unk>` `<s>` `</s>`, the 256 byte pieces, then pieces that text really merges
/// into — characters, then letter strings of growing length with and without "▁" — so that
/// English encodes into multi-character tokens as with a trained tokenizer, and the embedding and
/// lm_head have the release's sizes.
public enum SyntheticTokenizer {
    public static func model(vocabularySize: Int) -> SentencePieceModel {
        let reserved = 3 + 256
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        var merged: [String] = ["▁"] + (32..<127).map { String(UnicodeScalar(UInt8($0))) }.filter { $0 != " " }
        var seen = Set(merged)
        func add(_ piece: String) { if seen.insert(piece).inserted { merged.append(piece) } }
        // Level by level: every piece of length n+1 extends one of length n, so its prefix is a
        // piece and BPE can reach it; words get a "▁" variant as LLaMA's vocabulary does.
        var level = letters
        for a in letters { add("▁" + a) }
        while reserved + merged.count < vocabularySize {
            var next: [String] = []
            for prefix in level {
                for letter in letters where reserved + merged.count < vocabularySize {
                    add(prefix + letter)
                    add("▁" + prefix + letter)
                    next.append(prefix + letter)
                }
            }
            level = next
        }
        return SentencePieceModelWriter.llamaStyleBPE(merged: Array(merged.prefix(max(0, vocabularySize - reserved))))
    }

    /// Writes `tokenizer.model` and a `tokenizer_config.json` like the MoE++ release's (bos added).
    public static func write(vocabularySize: Int, to directory: String) throws {
        try SentencePieceModelWriter.write(model(vocabularySize: vocabularySize), to: (directory as NSString).appendingPathComponent("tokenizer.model"))
        let config = #"{"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}"#
        try AtomicFile.write(Data((config + "\n").utf8), to: (directory as NSString).appendingPathComponent("tokenizer_config.json"))
    }
}

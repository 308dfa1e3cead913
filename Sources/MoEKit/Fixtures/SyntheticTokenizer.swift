import Foundation

/// A SentencePiece `tokenizer.model` of any vocabulary size for synthetic checkpoints, shaped
/// like LLaMA's: `<unk>` `<s>` `</s>`, the 256 byte pieces, then pieces that text really merges
/// into — characters, "▁"-words of letters, then letter pairs and triples (every piece's prefix is
/// itself a piece, so BPE can reach it) — so that English encodes into 2–4 character tokens as
/// with a trained tokenizer, and the embedding and lm_head have the release's sizes.
public enum SyntheticTokenizer {
    public static func model(vocabularySize: Int) -> SentencePieceModel {
        let reserved = 3 + 256
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        var merged: [String] = ["▁"] + (32..<127).map { String(UnicodeScalar(UInt8($0))) }.filter { $0 != " " }
        var seen = Set(merged)
        func add(_ piece: String) { if seen.insert(piece).inserted { merged.append(piece) } }
        for a in letters { add("▁" + a) }
        for a in letters { for b in letters { add(a + b); add("▁" + a + b) } }
        outer: for a in letters { for b in letters { for c in letters {
            if reserved + merged.count >= vocabularySize { break outer }
            add(a + b + c)
            add("▁" + a + b + c)
        } } }
        var length = 4
        while reserved + merged.count < vocabularySize {
            // Longer runs of one letter keep prefixes reachable for any size asked for.
            for a in letters where reserved + merged.count < vocabularySize { add("▁" + String(repeating: a, count: length)) }
            length += 1
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

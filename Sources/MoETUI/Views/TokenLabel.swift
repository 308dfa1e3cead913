import Foundation

/// How a token's text is shown in a narrow column (the routing map's header): line breaks as ⏎,
/// a token of only spaces as ␣, a raw byte ("<0xE2>" in the trace) by its hex value, "xE2".
/// The label is not cut here: the view cuts it to the column and marks the cut with `…`.
public enum TokenLabel {
    public static func short(_ text: String) -> String {
        if text.hasPrefix("<0x"), text.count >= 6, text.hasSuffix(">") {
            return "x" + text.dropFirst(3).prefix(2)
        }
        let shown = text.replacingOccurrences(of: "\n", with: "⏎").trimmingCharacters(in: Set<Character>([" ", "\t", "\r"]))
        return shown.isEmpty ? "␣" : shown
    }
}

import Foundation

/// A very small SVG writer: enough for heat maps (rectangles, text) that any browser opens.
public struct SVGWriter {
    public let width: Int, height: Int
    private var body: [String] = []

    public init(width: Int, height: Int) { self.width = width; self.height = height }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, title: String? = nil) {
        let shape = "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"\(fill)\""
        body.append(title.map { shape + "><title>\(Self.escape($0))</title></rect>" } ?? shape + "/>")
    }

    public enum Anchor: String { case start, middle, end }

    public mutating func text(_ text: String, x: Double, y: Double, size: Double = 11, anchor: Anchor = .start, rotate: Bool = false) {
        let transform = rotate ? " transform=\"rotate(-90 \(Self.number(x)) \(Self.number(y)))\"" : ""
        body.append("<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\" text-anchor=\"\(anchor.rawValue)\"\(transform)>\(Self.escape(text))</text>")
    }

    public var document: String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body.joined(separator: "\n") + "\n</svg>\n"
    }

    /// Text content and attribute values: the five XML specials escaped, control characters dropped.
    public static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: if scalar.value >= 0x20 || scalar == "\t" { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    /// White (0) to deep blue (1) — one hue, so darker always means more.
    public static func shade(_ fraction: Double) -> String {
        let t = max(0, min(1, fraction.isFinite ? fraction : 0))
        let (r, g, b) = (255 - t * 247, 255 - t * 207, 255 - t * 148)
        return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
    }
}

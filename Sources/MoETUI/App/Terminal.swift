import CNcursesw
import CTerminalRestore
import Foundation

/// The ncurses screen: takes it over, copies `CellGrid`s out, reads keys and mouse, and always
/// gives the terminal back — on quit, on fatal errors, and on SIGTERM/SIGHUP/SIGQUIT.
public final class Terminal {
    public let colors: Bool
    public let glyphs: Glyphs
    private(set) var started = false

    /// `colors: false` for NO_COLOR / --no-color; glyphs fall back to ASCII outside UTF-8 locales.
    public init(colors: Bool) {
        glyphs = moepp_locale_is_utf8() != 0 ? .unicode : .ascii
        self.colors = colors
    }

    public func start() throws {
        moepp_install_restore()
        guard moepp_screen_start() == 0 else { throw TerminalError("cannot initialise the terminal (is TERM set?)") }
        started = true
        atexit { moepp_screen_end() }
        if colors && moepp_colors_start() >= 8 {
            // Pair n+1 ↔ Color(rawValue: n). -1 is the terminal's default.
            let many = moepp_colors_start() >= 16
            let foreground: [Color: Int16] = [.normal: -1, .ffn: 6, .zero: many ? 8 : 7, .copy: 2, .constant: 5, .accent: 3,
                                              .muted: many ? 8 : 7, .cool: 4, .warm: 3, .hot: 1, .error: 1, .good: 2]
            for color in Color.allCases { moepp_pair(Int16(color.rawValue + 1), foreground[color] ?? -1, -1) }
        }
        moepp_mouse_enable()
        moepp_bracketed_paste(1)
        moepp_input_timeout(Self.inputTimeout)
    }

    /// Milliseconds `read` waits for a key before the loop draws and drains events.
    static let inputTimeout: Int32 = 20

    public var size: (width: Int, height: Int) { (Int(moepp_columns()), Int(moepp_lines())) }

    /// True when the terminal's size changed since the last call (ncurses is resized to match).
    public func sizeChanged() -> Bool { moepp_sync_size() != 0 }

    public func restore() {
        if started { moepp_screen_end() }
        started = false
    }

    /// Copies `grid` out, sending only the cells that changed since the last frame: while tokens
    /// stream, the drawing thread shares two cores with generation, so every cell skipped is
    /// compute given back.
    /// The last frame sent, to send only what changed.
    private var previous: CellGrid?

    public func draw(_ grid: CellGrid, clearFirst: Bool = false) {
        let full = clearFirst || previous == nil || previous!.width != grid.width || previous!.height != grid.height
        if full { moepp_clear() }
        for row in 0..<grid.height {
            var first = 0, last = grid.width - 1
            if !full, let previous {
                while first < grid.width && grid[row, first] == previous[row, first] { first += 1 }
                if first == grid.width { continue }
                while last > first && grid[row, last] == previous[row, last] { last -= 1 }
                // Never start or end inside a wide character.
                while first > 0 && grid[row, first].text.isEmpty { first -= 1 }
                if last + 1 < grid.width && grid[row, last + 1].text.isEmpty { last += 1 }
            }
            var column = first
            while column <= last {
                let style = grid[row, column].style
                var run = ""
                let start = column
                while column <= last && grid[row, column].style == style {
                    run += grid[row, column].text
                    column += 1
                }
                // Never write the bottom-right cell: some terminals scroll when it is filled.
                if row == grid.height - 1 && column == grid.width { run = String(run.dropLast()) }
                setStyle(style)
                moepp_put(Int32(row), Int32(start), run)
            }
        }
        previous = grid
        moepp_refresh()
    }

    func setStyle(_ style: Style) {
        let attributes = (style.bold ? 1 : 0) | (style.dim ? 2 : 0) | (style.reverse ? 4 : 0) | (style.underline ? 8 : 0)
        moepp_style(colors ? Int16(style.color.rawValue + 1) : 0, Int32(attributes))
    }

    /// The next key, or nil after the input timeout.
    public func read() -> Key? {
        var code: UInt32 = 0
        switch moepp_read(&code) {
        case 1:
            switch code {
            case 13: return .enter
            // Ctrl+J (line feed): the terminal sends it for Ctrl+J only; Enter is a carriage
            // return in raw mode.
            case 10: return .newline
            case 27: return altEnterOrEscape()
            case 9: return .tab
            case 127, 8: return .backspace
            case 1...26: return .control(Character(Unicode.Scalar(UInt8(code) + 96)))
            default: return Unicode.Scalar(code).map { .character(Character($0)) }
            }
        case 2:
            let key = Int32(code)
            switch key {
            case moepp_key_up(): return .up
            case moepp_key_down(): return .down
            case moepp_key_left(): return .left
            case moepp_key_right(): return .right
            case moepp_key_home(): return .home
            case moepp_key_end(): return .end
            case moepp_key_page_up(): return .pageUp
            case moepp_key_page_down(): return .pageDown
            case moepp_key_backspace(): return .backspace
            case moepp_key_delete(): return .delete
            case moepp_key_enter(): return .enter
            case moepp_key_back_tab(): return .backTab
            case moepp_key_resize(): return .resize
            case moepp_key_paste_start(): return .paste(readPaste())
            case moepp_key_paste_end(): return nil
            case moepp_key_mouse():
                var y: Int32 = 0, x: Int32 = 0
                switch moepp_mouse(&y, &x) {
                case 1: return .click(row: Int(y), column: Int(x))
                case 4: return .wheelUp
                case 5: return .wheelDown
                default: return nil
                }
            default:
                for n in 1...12 where key == moepp_key_f(Int32(n)) { return .function(n) }
                return nil
            }
        default:
            return nil
        }
    }

    /// ESC then Enter, arriving together, is Alt+Enter (a new line in the prompt); anything else
    /// after ESC is put back to be read as itself.
    func altEnterOrEscape() -> Key {
        moepp_input_timeout(10)
        defer { moepp_input_timeout(Self.inputTimeout) }
        var code: UInt32 = 0
        switch moepp_read(&code) {
        case 1 where code == 13 || code == 10: return .newline
        case 1: moepp_unget(code, 0)
        case 2: moepp_unget(code, 1)
        default: break
        }
        return .escape
    }

    /// The text between the bracketed-paste markers, line breaks as "\n", other control
    /// characters dropped (a pasted ESC must not act as a key). Ends at the closing marker, or
    /// after a second without input (a terminal that lost it).
    func readPaste() -> String {
        moepp_input_timeout(1000)
        defer { moepp_input_timeout(Self.inputTimeout) }
        var text = ""
        var code: UInt32 = 0
        while !isGone {
            switch moepp_read(&code) {
            case 1:
                switch code {
                case 13, 10: text.append("\n")
                case 9: text.append("\t")
                case 0..<32, 127: break
                default: if let scalar = Unicode.Scalar(code) { text.unicodeScalars.append(scalar) }
                }
            case 2 where Int32(code) == moepp_key_paste_end(): return text
            case 2: break
            default: return text
            }
        }
        return text
    }

    /// True once the terminal has gone away; the loop then ends instead of spinning.
    public var isGone: Bool { moepp_terminal_gone() != 0 }
}

public struct TerminalError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

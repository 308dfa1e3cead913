import Foundation
import MoEKit

/// The loop of `moepp view`: keys → controller (minus what needs a model) → screen. No
/// generator, no autosave, nothing written but what `/export` is asked to write.
public final class TraceViewerApp {
    let terminal: Terminal
    let state: PlaygroundState
    let controller: PlaygroundController

    public init(trace: RoutingTrace, name: String, colors: Bool) {
        terminal = Terminal(colors: colors)
        state = TraceViewer.state(trace, name: name)
        controller = PlaygroundController(state: state, controls: LiveControls(), layout: ScreenLayout(width: 0, height: 0, config: state.config))
    }

    public func run() throws {
        try terminal.start()
        defer { terminal.restore() }
        var dirty = true, clearNext = true
        while !terminal.isGone {
            if let key = terminal.read() {
                if let refusal = TraceViewer.refusal(key, state) {
                    if key == .enter { state.input.clear() }
                    state.say(refusal, error: true)
                    dirty = true
                } else {
                    switch controller.handle(key) {
                    case .quit: return
                    case .redraw: dirty = true; if key == .resize || key == .control("l") { clearNext = true }
                    case .save(let path, let replace): TraceExport.run(state, to: path, replace: replace); dirty = true
                    case .startGeneration, .stopGeneration, .resetConversation, .abReplay, .load, .switchModel, .retry:
                        state.say("read-only trace: no model", error: true); dirty = true
                    case .none: break
                    }
                }
            }
            if terminal.sizeChanged() { dirty = true; clearNext = true }
            if dirty {
                let (width, height) = terminal.size
                controller.layout = ScreenLayout(width: width, height: height, config: state.config)
                terminal.draw(Screen.render(state, width: width, height: height, glyphs: terminal.glyphs), clearFirst: clearNext)
                dirty = false
                clearNext = false
            }
        }
    }
}

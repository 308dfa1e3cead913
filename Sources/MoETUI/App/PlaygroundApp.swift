import Foundation
import MoEKit

/// The interactive loop: keys → controller → effects; generation events → state; state → screen.
/// Drawing is paced (at most ~30 frames/s) independently of how fast tokens arrive.
public final class PlaygroundApp {
    let generator: Generator
    let terminal: Terminal
    let state: PlaygroundState
    let controller: PlaygroundController
    let worker: GenerationWorker

    public init(generator: Generator, modelName: String, colors: Bool, calibration: Calibration? = nil) {
        self.generator = generator
        terminal = Terminal(colors: colors)
        // The sampling settings are the caller's (the chat command's defaults sample at T = 0.8).
        let settings = generator.controls.current
        state = PlaygroundState(config: generator.model.config, modelName: modelName, settings: settings)
        state.calibration = calibration
        if let cache = generator.model.expertCache {
            state.cacheDescription = "\(cache.slotCount) slots \(cache.policy.name)" + (generator.model.expertPrediction ? " + prefetch" : "")
        }
        if let calibration { state.adaptiveEpsilon = calibration.defaultEpsilon }
        controller = PlaygroundController(state: state, controls: generator.controls,
                                          layout: ScreenLayout(width: 0, height: 0, config: generator.model.config))
        worker = GenerationWorker(generator: generator)
    }

    public func run() throws {
        try terminal.start()
        defer {
            worker.stopAndWait()
            terminal.restore()
        }
        var dirty = true, clearNext = true
        var lastDraw = Date.distantPast
        while !terminal.isGone {
            if let key = terminal.read() {
                if key != .resize { state.status = nil }
                switch controller.handle(key) {
                case .quit: return
                case .redraw: dirty = true; if key == .resize || key == .control("l") { clearNext = true }
                case .startGeneration(let prompt): start(prompt); dirty = true
                case .stopGeneration: worker.stop(); dirty = true
                case .resetConversation: generator.reset(); dirty = true
                case .export(let path):
                    do {
                        try TraceExport.write(state, to: path)
                        state.say("exported \(state.tokens.count) tokens to \(path)")
                    } catch {
                        state.say("export failed: \(error)", error: true)
                    }
                    dirty = true
                case .none: break
                }
            }
            for output in worker.drain() {
                switch output {
                case .event(let event):
                    state.apply(event)
                    if case .finished(let report) = event, report.reason == .contextFull {
                        state.say("context full (\(generator.model.config.maxPositionEmbeddings) tokens): /clear to start afresh", error: true)
                    }
                case .failed(let message):
                    state.generating = false
                    state.say("generation failed: \(message)", error: true)
                }
                dirty = true
            }
            if terminal.sizeChanged() { dirty = true; clearNext = true }
            if dirty && Date().timeIntervalSince(lastDraw) >= 1.0 / 30 {
                let (width, height) = terminal.size
                controller.layout = ScreenLayout(width: width, height: height, config: state.config)
                terminal.draw(Screen.render(state, width: width, height: height, glyphs: terminal.glyphs), clearFirst: clearNext)
                dirty = false
                clearNext = false
                lastDraw = Date()
            }
        }
    }

    /// Sends a prompt; when the context cannot hold it and a reply, the conversation restarts.
    func start(_ prompt: String) {
        let needed = generator.tokenizer.encode(prompt).count + state.maxTokens + 1
        var notice: String?
        if generator.cache.length + needed > generator.model.config.maxPositionEmbeddings {
            generator.reset()
            notice = "context window (\(generator.model.config.maxPositionEmbeddings) tokens) full: conversation restarted"
        }
        state.beginTurn(prompt: prompt, notice: notice)
        worker.start(prompt: generator.cache.length == 0 ? prompt : " " + prompt, maxTokens: state.maxTokens)
    }
}

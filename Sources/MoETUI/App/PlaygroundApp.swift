import Foundation
import MoEKit

/// The interactive loop: keys → controller → effects; generation events → state; state → screen.
/// Drawing is paced (at most ~30 frames/s) independently of how fast tokens arrive.
public final class PlaygroundApp {
    /// Opens a model path with the live controls the playground shares (`/model`, `/load`),
    /// configured as the command line asked (expert budget, prefetch).
    public typealias ModelOpener = (_ path: String, _ controls: LiveControls) throws -> (Generator, Calibration?)

    var generator: Generator
    let terminal: Terminal
    let state: PlaygroundState
    let controller: PlaygroundController
    var worker: GenerationWorker
    let abWorker = ABReplayWorker()
    let openModel: ModelOpener
    /// After `/load`: the model's cache is empty and the next prompt first re-reads the
    /// conversation's exact ids, each run under the routing it had; `reread`: its ids are unknown
    /// (it had slid), so earlier turns are re-read from their text.
    var replayPending = false
    var reread = false
    /// Where the session is saved (nil: no home directory to save into).
    public var autosavePath = SessionAutosave.path()

    public init(generator: Generator, modelPath: String, colors: Bool, calibration: Calibration? = nil, openModel: @escaping ModelOpener) {
        self.generator = generator
        self.openModel = openModel
        terminal = Terminal(colors: colors)
        // The sampling settings are the caller's (the chat command's defaults sample at T = 0.8).
        let settings = generator.controls.current
        state = PlaygroundState(config: generator.model.config, modelName: Self.name(of: modelPath), modelPath: modelPath, settings: settings)
        controller = PlaygroundController(state: state, controls: generator.controls,
                                          layout: ScreenLayout(width: 0, height: 0, config: generator.model.config))
        worker = GenerationWorker(generator: generator)
        describe(generator, calibration: calibration)
    }

    static func name(of path: String) -> String { (path as NSString).lastPathComponent }

    /// The model's calibration and expert cache, as the state shows them.
    func describe(_ generator: Generator, calibration: Calibration?) {
        state.calibration = calibration
        state.cacheDescription = generator.model.expertCache.map { cache in
            "\(cache.slotCount) slots \(cache.policy.name)" + (generator.model.expertPrediction ? " + prefetch" : "")
        }
        if let calibration { state.adaptiveEpsilon = calibration.defaultEpsilon }
    }

    /// Runs until quit; returns the line to print once the terminal is back (where the session
    /// was saved, or why it could not be).
    @discardableResult
    public func run() throws -> String? {
        try terminal.start()
        defer { terminal.restore() }
        try loop()
        // `loop` ended the reply in flight; its last events go into the save too.
        for output in worker.drain() { if case .event(let event) = output { state.apply(event) } }
        let lines = [autosave(), RoutingStatisticsScreenState.recordSession(state)].compactMap { $0 }
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }

    /// Saves the session; the outcome as a line for the user (nil: nothing to save).
    @discardableResult
    func autosave() -> String? {
        guard let path = autosavePath else { return state.turns.isEmpty ? nil : "conversation not saved: no HOME or XDG_STATE_HOME" }
        do {
            return try SessionAutosave.save(state, to: path) ? "conversation saved to \(path)" : nil
        } catch {
            return "conversation not saved: \(error)"
        }
    }

    func loop() throws {
        defer { worker.stopAndWait(); abWorker.stopAndWait() }
        var dirty = true, clearNext = true
        var lastDraw = Date.distantPast
        while !terminal.isGone {
            if let key = terminal.read() {
                if key != .resize { state.status = nil }
                switch controller.handle(key) {
                case .quit: return
                case .redraw: dirty = true; if key == .resize || key == .control("l") { clearNext = true }
                case .startGeneration(let prompt): start(prompt); dirty = true
                case .stopGeneration: worker.stop(); abWorker.stop(); dirty = true
                case .abReplay(let replay): state.generating = true; abWorker.start(replay, on: generator); dirty = true
                case .resetConversation: generator.reset(); replayPending = false; reread = false; dirty = true
                case .save(let path, let replace): TraceExport.run(state, to: path, replace: replace); dirty = true
                case .load(let path): load(path); dirty = true; clearNext = true
                case .switchModel(let path): switchModelCommand(path); dirty = true; clearNext = true
                case .retry: retry(); dirty = true
                case .none: break
                }
            }
            for output in worker.drain() {
                switch output {
                case .event(let event):
                    state.apply(event)
                    if case .finished = event, let problem = autosave(), problem.hasPrefix("conversation not saved") { state.say(problem, error: true) }
                    if case .finished(let report) = event, report.reason == .contextFull {
                        state.say("context full (\(generator.model.config.maxPositionEmbeddings) tokens): the next prompt slides the window over earlier turns")
                    }
                case .failed(let message):
                    state.generating = false
                    state.stopRequested = false
                    state.say("generation failed: \(message)", error: true)
                }
                dirty = true
            }
            for output in abWorker.drain() { state.apply(output); dirty = true }
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

    /// Sends a prompt, sliding the context window over earlier turns when it is full.
    func start(_ prompt: String) {
        let plan = ContextWindow.plan(generator, turns: state.turns, prompt: prompt, maxTokens: state.maxTokens,
                                      pending: replayPending ? state.replaySegments(fallback: generator.controls.current.routing) : nil,
                                      reread: reread)
        replayPending = false
        reread = false
        state.beginTurn(prompt: prompt, notice: plan.notice)
        worker.start(plan)
    }
}

import MoEKit

/// Keys while the statistics screen is open: arrows pick the layer × expert, PgUp/PgDn jump 16
/// experts, Home goes to expert 0, Tab switches between the tokens on screen and the heat map
/// accumulated on disk, Esc (or F12, q) closes; quitting and stopping work as everywhere.
extension PlaygroundController {
    func openStatistics() {
        var screen = RoutingStatisticsScreenState(model: state.modelName)
        screen.layer = min(state.selectedLayer, max(0, state.config.numLayers - 1))
        state.statisticsScreen = screen
    }

    func handleStatisticsScreen(_ key: Key) -> Effect {
        guard var screen = state.statisticsScreen else { return .none }
        let experts = max(state.config.numExperts, screen.accumulated?.usage.experts ?? 0)
        let layers = max(state.config.numLayers, screen.accumulated?.usage.layers ?? 0)
        switch key {
        case .escape, .function(12), .character("q"): state.statisticsScreen = nil; return .redraw
        case .control("d"), .function(10): return .quit
        case .control("c"): return perform(.stop)
        case .left: screen.expert -= 1
        case .right: screen.expert += 1
        case .up: screen.layer -= 1
        case .down: screen.layer += 1
        case .pageUp: screen.expert -= 16
        case .pageDown: screen.expert += 16
        case .home: screen.expert = 0
        case .end: screen.expert = experts - 1
        case .tab, .backTab: screen.scope = screen.scope == .session ? .accumulated : .session
        case .resize, .control("l"): return .redraw
        default: return .none
        }
        screen.expert = max(0, min(experts - 1, screen.expert))
        screen.layer = max(0, min(layers - 1, screen.layer))
        state.statisticsScreen = screen
        return .redraw
    }
}

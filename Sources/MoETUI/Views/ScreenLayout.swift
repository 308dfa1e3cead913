import MoEKit

/// Where each pane goes for a terminal of a given size. Left: chat over the prompt line. Right:
/// routing map, inspector, layer statistics, throughput. Bottom: status line and key bar.
public struct ScreenLayout: Equatable, Sendable {
    public static let minimumWidth = 100
    public static let minimumHeight = 30

    public var width: Int, height: Int
    public var chat = Rect(x: 0, y: 0, width: 0, height: 0)
    public var input = Rect(x: 0, y: 0, width: 0, height: 0)
    public var map = Rect(x: 0, y: 0, width: 0, height: 0)
    public var inspector = Rect(x: 0, y: 0, width: 0, height: 0)
    public var statistics = Rect(x: 0, y: 0, width: 0, height: 0)
    public var throughput = Rect(x: 0, y: 0, width: 0, height: 0)
    public var statusRow = 0
    public var keyBarRow = 0

    public var isTooSmall: Bool { width < Self.minimumWidth || height < Self.minimumHeight }

    public init(width: Int, height: Int, config: ModelConfig) {
        self.width = width
        self.height = height
        guard !isTooSmall else { return }
        statusRow = height - 2
        keyBarRow = height - 1
        let body = height - 2
        let leftWidth = max(40, width * 42 / 100)
        input = Rect(x: 0, y: body - 3, width: leftWidth, height: 3)
        chat = Rect(x: 0, y: 0, width: leftWidth, height: body - 3)
        let right = width - leftWidth
        let throughputHeight = 6
        let statisticsHeight = min(config.numLayers + 4, max(6, body / 4))
        let remaining = body - throughputHeight - statisticsHeight
        let mapHeight = min(config.numLayers + 3, max(5, remaining * 2 / 5))
        map = Rect(x: leftWidth, y: 0, width: right, height: mapHeight)
        inspector = Rect(x: leftWidth, y: mapHeight, width: right, height: remaining - mapHeight)
        statistics = Rect(x: leftWidth, y: remaining, width: right, height: statisticsHeight)
        throughput = Rect(x: leftWidth, y: remaining + statisticsHeight, width: right, height: throughputHeight)
    }
}

/// The whole screen, drawn from the state.
public enum Screen {
    public static func render(_ state: PlaygroundState, width: Int, height: Int, glyphs: Glyphs) -> CellGrid {
        var grid = CellGrid(width: width, height: height, glyphs: glyphs)
        let layout = ScreenLayout(width: width, height: height, config: state.config)
        guard !layout.isTooSmall else {
            let message = "Terminal too small: need \(ScreenLayout.minimumWidth)×\(ScreenLayout.minimumHeight), have \(width)×\(height)."
            grid.put(message, row: height / 2, column: max(0, (width - DisplayWidth.of(message)) / 2), style: Style(.error, bold: true))
            grid.put("Enlarge the window, or Ctrl+D to quit.", row: height / 2 + 1, column: 0)
            return grid
        }
        if state.ab.visible, let comparison = state.ab.comparison {
            ABView.draw(into: &grid, state, comparison)
            if state.showHelp { HelpView.draw(into: &grid, Rect(x: 4, y: 2, width: width - 8, height: height - 5), state) }
            return grid
        }
        if let screen = state.statisticsScreen {
            // The statistics screen covers every pane: drawing them first only cost time (the
            // chat of a 4096-token trace alone took most of a frame).
            RoutingStatisticsScreen.draw(into: &grid, Rect(x: 0, y: 0, width: width, height: height - 2), state, screen)
        } else {
            ChatView.draw(into: &grid, layout.chat, state)
            InputView.draw(into: &grid, layout.input, state)
            RoutingMapView.draw(into: &grid, layout.map, state)
            InspectorView.draw(into: &grid, layout.inspector, state)
            StatisticsView.draw(into: &grid, layout.statistics, state)
            ThroughputView.draw(into: &grid, layout.throughput, state)
        }
        StatusBarView.draw(into: &grid, row: layout.statusRow, keyBarRow: layout.keyBarRow, state)
        if state.showHelp { HelpView.draw(into: &grid, Rect(x: 4, y: 2, width: width - 8, height: height - 5), state) }
        return grid
    }
}

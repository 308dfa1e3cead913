import MoEKit

/// The A/B screen: the last replay's comparison and how the screen is looking at it.
public struct ABScreenState: Sendable {
    public var comparison: SettingsComparison?
    /// The model the comparison ran on: after `/model` or `/load` switch models, `/ab` alone no
    /// longer shows it.
    public var modelPath = ""
    /// The screen is shown (over the usual panes) while true.
    public var visible = false
    /// Which side's routing the map shows.
    public var showingB = false
    /// First token column of the map; nil: centred on the divergence point.
    public var mapFirstToken: Int?
    public var mapFirstLayer = 0

    public init() {}

    /// Shows a fresh comparison, the map on side A around the divergence.
    public mutating func show(_ comparison: SettingsComparison, modelPath: String) {
        self.comparison = comparison
        self.modelPath = modelPath
        visible = true
        showingB = false
        mapFirstToken = nil
        mapFirstLayer = 0
    }
}

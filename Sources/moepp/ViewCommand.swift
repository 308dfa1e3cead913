import ArgumentParser
import Foundation
import MoEKit
import MoETUI

struct ViewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view", abstract: "Open a routing trace read-only in the playground's views (map, inspector, statistics) without a model.")

    @OptionGroup var traceOptions: TraceOptions
    @Flag(name: .customLong("no-color"), help: "No colours (glyphs still carry every meaning); NO_COLOR does the same.") var noColor = false
    @Argument(help: "A routing trace: moepp's (/export, the session autosave, `moepp route`), vLLM's or SGLang's routed experts.") var file: String

    func run() throws {
        // The file is read and checked before the screen is taken.
        let trace = try TraceReader.read(path: file, options: traceOptions.reader)
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw ValidationError("view needs a terminal; use `moepp stats` in scripts")
        }
        let colorsWanted = !noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        try TraceViewerApp(trace: trace, name: (file as NSString).lastPathComponent, colors: colorsWanted).run()
    }
}

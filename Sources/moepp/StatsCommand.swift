import ArgumentParser
import Foundation
import MoEKit
import MoETUI

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Routing statistics over traces: expert usage (also accumulated per model on disk), next-layer predictability, co-activation, top tokens per expert.")

    @OptionGroup var traceOptions: TraceOptions
    @Option(help: "The layer for co-activation and top tokens.") var layer = 0
    @Option(help: "Write usage.svg and coactivation-L<layer>.svg (and accumulated-usage.svg) into this directory.") var plots: String?
    @Flag(help: "Print the statistics as JSON.") var json = false
    @Flag(name: .customLong("no-save"), help: "Do not add these traces to the model's heat map on disk.") var noSave = false
    @Argument(help: "Routing traces: moepp's (/export, `moepp route`, Scripts/hf_router_logits_trace.py), vLLM's or SGLang's routed experts.") var traces: [String]

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("expected at least one trace file") }
        guard layer >= 0 else { throw ValidationError("--layer: expected 0 or more, found \(layer)") }
    }

    func run() throws {
        let read = try traceOptions.read(traces)
        let layers = read.map(\.layers).max() ?? 0
        guard layer < layers else { throw ValidationError("--layer \(layer): the traces have layers 0…\(layers - 1)") }
        var report = RoutingStatisticsReport(read, layer: layer)
        var notes: [String] = []
        if !noSave {
            if report.model.isEmpty {
                notes.append("not accumulated: the trace names no model (--model-id NAME)")
            } else if let directory = ExpertUsageStore.directory() {
                var store = try ExpertUsageStore.load(model: report.model, directory: directory)
                let added = read.filter { store.add($0) }.count
                if added > 0 { try store.save(directory: directory) }
                if added < read.count { notes.append("\(read.count - added) trace(s) already counted in the heat map on disk") }
                report.accumulated = .init(file: directory + "/" + ExpertUsageStore.fileName(model: report.model), traces: store.traces.count, usage: store.usage)
            }
        }
        if let plots { notes += try writePlots(report, to: plots) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text(), terminator: "")
        }
        for note in notes { FileHandle.standardError.write(Data("moepp: \(note)\n".utf8)) }
    }

    /// The SVG plots; returns a line per file written.
    func writePlots(_ report: RoutingStatisticsReport, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = report.model.isEmpty ? "trace" : report.model
        var files = [("usage.svg", RoutingPlots.heatMap(report.usage, title: "\(name): expert usage over \(report.tokens) tokens")),
                     ("coactivation-L\(layer).svg", RoutingPlots.coActivation(report.coActivation, title: "\(name): co-activation at layer \(layer)"))]
        if let accumulated = report.accumulated {
            files.append(("accumulated-usage.svg", RoutingPlots.heatMap(accumulated.usage, title: "\(name): expert usage over \(accumulated.usage.totalTokens) tokens, \(accumulated.traces) traces")))
        }
        return try files.map { file, svg in
            let path = (directory as NSString).appendingPathComponent(file)
            try SafeFileWrite.write(Data(svg.utf8), to: path, replace: true)
            return "wrote \(path)"
        }
    }
}

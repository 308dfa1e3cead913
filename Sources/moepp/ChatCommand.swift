import ArgumentParser
import Foundation
import MoEKit
import MoETUI

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Open the terminal playground: chat, routing map, inspector, live toggles (default command).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var routing: RoutingOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var sampling: SamplingOptions
    @Flag(name: .customLong("no-color"), help: "No colours (glyphs still carry every meaning); NO_COLOR does the same.") var noColor = false

    func validate() throws {
        try cacheOptions.validate(loading: modelOptions.loading)
    }

    func run() throws {
        // Everything that can fail on input is checked before the screen is taken.
        try precision.apply()
        let generator = try modelOptions.loadGenerator(expertCache: cacheOptions.expertBudget != nil)
        try cacheOptions.apply(to: generator.model, directory: modelOptions.directory)
        let controls = try routing.controls(for: generator.model.config, modelDirectory: modelOptions.directory)
        generator.controls.update { $0 = GenerationSettings(routing: controls, sampling: sampling.settings(defaults: SamplingOptions.playgroundDefaults)) }
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw ValidationError("chat needs a terminal; use `moepp generate` or `moepp route` in scripts")
        }
        let colorsWanted = !noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let calibration = try Calibrator.load(directory: modelOptions.directory)
        // `/model` and `/load` open models the way this command did: same expert cache options.
        let cacheOptions = self.cacheOptions, loading = modelOptions.loading
        let openModel: PlaygroundApp.ModelOpener = { path, controls in
            guard FileManager.default.fileExists(atPath: path) else { throw CheckpointError(file: path, "no such model directory") }
            let generator = try Generator(directory: path, loading: loading, controls: controls)
            try cacheOptions.apply(to: generator.model, directory: path)
            return (generator, try Calibrator.load(directory: path))
        }
        let path = URL(fileURLWithPath: modelOptions.directory).standardizedFileURL.path
        if let saved = try PlaygroundApp(generator: generator, modelPath: path, colors: colorsWanted, calibration: calibration, openModel: openModel).run() {
            FileHandle.standardError.write(Data("moepp: \(saved)\n".utf8))
        }
    }
}

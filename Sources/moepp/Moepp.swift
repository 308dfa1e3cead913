import ArgumentParser
import Foundation
import MoEKit

@main
struct Moepp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moepp",
        abstract: "A playground and router visualiser for Mixture-of-Experts language models (MoE++, Mixtral, OLMoE).",
        subcommands: [ChatCommand.self, GenerateCommand.self, RouteCommand.self, LogitsCommand.self, InspectCommand.self,
                      BenchCommand.self, BandwidthCommand.self, MatvecBenchCommand.self, MatmulBenchCommand.self, CacheBenchCommand.self, CompareCommand.self, CompareSettingsCommand.self, CalibrateCommand.self, TrainCommand.self, TokenizerTrainCommand.self, FixtureCommand.self, SynthesizeCommand.self, QuantizeCommand.self, StatsCommand.self, ViewCommand.self],
        defaultSubcommand: ChatCommand.self)

    /// Errors become one line on stderr and a non-zero exit (help and version still print in full).
    static func main() {
        // Progress lines reach a log file or pipe as they happen, not at exit.
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let lines = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let line = lines.first { !$0.isEmpty } ?? "\(error)"
            FileHandle.standardError.write(Data("moepp: \(line.replacingOccurrences(of: "Error: ", with: ""))\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

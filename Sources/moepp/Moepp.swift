import ArgumentParser
import MoEKit

@main
struct Moepp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moepp",
        abstract: "A playground and router visualiser for Mixture-of-Experts language models (MoE++, Mixtral, OLMoE).",
        subcommands: [GenerateCommand.self, RouteCommand.self, LogitsCommand.self, InspectCommand.self,
                      BenchCommand.self, FixtureCommand.self],
        defaultSubcommand: GenerateCommand.self)
}

import Foundation
import Testing
import TestHelpers
@testable import MoEKit

@Suite("The moepp command line on fixture checkpoints", .serialized)
struct CommandLineTests {
    @Test("generate and route run on tiny MoE++ and Mixtral checkpoints", arguments: [ModelFamily.moepp, .mixtral])
    func generateAndRoute(family: ModelFamily) throws {
        let directory = TestSupport.randomCheckpoint(family, seed: 2)
        let generated = try TestSupport.run(["generate", "--model", directory, "--max-tokens", "8", "the cat"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.hasPrefix("the cat"))
        #expect(generated.stderr.contains("8 generated"))
        let routed = try TestSupport.run(["route", "--model", directory, "the cat"])
        #expect(routed.status == 0, "\(routed.stderr)")
        let lines = routed.stdout.split(separator: "\n")
        let promptTokens = try Tokenizer.load(path: directory + "/tokenizer.json").encode("the cat").count
        #expect(lines.count == promptTokens)
        for line in lines {
            let record = try JSONDecoder().decode(TokenRouting.self, from: Data(line.utf8))
            #expect(record.layers.count == 2 && record.phase == "prompt")
        }
        let json = try TestSupport.run(["generate", "--model", directory, "--max-tokens", "3", "--json", "--no-zero", "x"])
        #expect(json.status == 0)
        #expect(json.stdout.split(separator: "\n").count == 4, "3 token lines and a summary")
        #expect(!json.stdout.contains("\"kind\":\"zero\""))
        // The summary carries the family's weight rule: MoE++ zeroes the zero expert's weight and has a
        // gating residual, Mixtral neither; both renormalise the chosen weights.
        let summary = try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n").last!.utf8)) as? [String: Any]
        let rule = summary?["weightRule"] as? [String: Any]
        let gate = rule?["gate"] as? [String: Any]
        let moepp = family == .moepp
        #expect(gate?["zeroWeightRule"] as? Bool == moepp && rule?["gatingResidual"] as? Bool == moepp && gate?["renormalise"] as? Bool == true,
                "\(String(describing: rule))")
    }

    @Test("a prompt from --prompt-file or standard input (-) is the same prompt, line breaks kept")
    func promptFromFile() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 2)
        let file = TestSupport.temporaryDirectory() + "/prompt.txt"
        try "the cat\nsat on\n".write(toFile: file, atomically: true, encoding: .utf8)
        let argument = try TestSupport.run(["route", "--model", directory, "--generate", "3", "the cat\nsat on"])
        let fromFile = try TestSupport.run(["route", "--model", directory, "--generate", "3", "--prompt-file", file])
        let fromStdin = try ChildProcess.run(["/bin/sh", "-c", "'\(TestSupport.executable)' route --model '\(directory)' --generate 3 - < '\(file)'"])
        #expect(argument.status == 0 && fromFile.status == 0 && fromStdin.status == 0, "\(fromFile.stderr) \(fromStdin.stderr)")
        func ids(_ output: String) -> [Int] { output.split(separator: "\n").compactMap { try? JSONDecoder().decode(TokenRouting.self, from: Data($0.utf8)).tokenId } }
        #expect(ids(fromFile.stdout) == ids(argument.stdout) && ids(fromStdin.stdout) == ids(argument.stdout) && !ids(argument.stdout).isEmpty)
        let generated = try TestSupport.run(["generate", "--model", directory, "--max-tokens", "2", "--prompt-file", file])
        #expect(generated.stdout.hasPrefix("the cat\nsat on"))
        try expectOneLineError(["generate", "--model", directory, "--prompt-file", "/nonexistent/p.txt"], mentions: ["/nonexistent/p.txt: no such file"])
        try Data([0x61, 0x62, 0xFF]).write(to: URL(fileURLWithPath: file))
        try expectOneLineError(["route", "--model", directory, "--prompt-file", file], mentions: [file, "not UTF-8 text (byte 2)"])
        try expectOneLineError(["route", "--model", directory], mentions: ["--prompt-file"])
    }

    func expectOneLineError(_ arguments: [String], mentions fragments: [String]) throws {
        let result = try TestSupport.run(arguments)
        #expect(result.status != 0, "\(arguments) should fail")
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!message.isEmpty && !message.contains("\n"), "one line: \(message)")
        for fragment in fragments { #expect(message.contains(fragment), "\(message) should mention \(fragment)") }
    }

    @Test("loader errors exit non-zero with one line naming the file")
    func loaderErrors() throws {
        try expectOneLineError(["generate", "--model", "/nonexistent/model", "hi"], mentions: ["/nonexistent/model"])
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 9)
        let weights = directory + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: weights))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: weights))
        try expectOneLineError(["route", "--model", directory, "hi"], mentions: ["model.safetensors", "truncated"])
        try FileManager.default.removeItem(atPath: directory + "/tokenizer.json")
        try data.write(to: URL(fileURLWithPath: weights))
        try expectOneLineError(["generate", "--model", directory, "hi"], mentions: ["no tokenizer.json or tokenizer.model"])
    }

    @Test("bad arguments exit non-zero with one line")
    func badArguments() throws {
        let directory = TestSupport.randomCheckpoint(.moepp, seed: 9)
        try expectOneLineError(["logits", "--model", directory, "--tokens", "1,x,3"], mentions: ["item 1"])
        try expectOneLineError(["logits", "--model", directory, "--tokens", "1,99999"], mentions: ["99999"])
        try expectOneLineError(["generate", "--model", directory, "--experts-per-token", "99", "hi"], mentions: ["--experts-per-token"])
    }

    @Test("logits prints the last position's logits")
    func logits() throws {
        let directory = TestSupport.fixture("hf-mixtral")
        let result = try TestSupport.run(["logits", "--model", directory, "--tokens", "3,17,42"])
        #expect(result.status == 0, "\(result.stderr)")
        struct Output: Decodable { let tokens: [Int]; let logits: [[Float]] }
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        #expect(output.tokens == [3, 17, 42] && output.logits.count == 1 && output.logits[0].count == 64)
    }

    @Test("inspect reports parameters and active parameters")
    func inspect() throws {
        let result = try TestSupport.run(["inspect", "--model", TestSupport.randomCheckpoint(.moepp), "--tensors"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("4 FFN + 1 zero + 1 copy + 2 constant"))
        #expect(result.stdout.contains("mlp.moe.experts.experts.0.up_proj.weight"))
    }
}

@Suite("The bundled models", .serialized)
struct BundledModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("generate and route run on the shipped checkpoints", arguments: ["moepp-tiny", "moe-tiny"])
    func shipped(name: String) throws {
        let directory = Self.root.appendingPathComponent("Assets/models/\(name)").path
        try #require(FileManager.default.fileExists(atPath: directory + "/config.json"), "\(name) is shipped in Assets/models")
        let generated = try TestSupport.run(["generate", "--model", directory, "--max-tokens", "24", "--temperature", "0", "To be, or not to be"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let words = generated.stdout.split { !$0.isLetter }.map { $0.lowercased() }
        #expect(words.count >= 8, "\(generated.stdout)")
        let routed = try TestSupport.run(["route", "--model", directory, "--generate", "4", "And God said"])
        #expect(routed.status == 0)
        let records = try routed.stdout.split(separator: "\n").map { try JSONDecoder().decode(TokenRouting.self, from: Data($0.utf8)) }
        #expect(records.count >= 7 && records.allSatisfy { $0.layers.count == 4 })
    }
}

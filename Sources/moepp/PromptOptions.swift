import ArgumentParser
import Foundation
import MoEKit

/// Where a command's prompt comes from: the argument, `-` (standard input) or `--prompt-file`.
/// A prompt from a file or a pipe keeps its line breaks; one final line break (what editors and
/// `echo` add) is dropped.
struct PromptOptions: ParsableArguments {
    @Option(name: .customLong("prompt-file"), help: "Read the prompt from FILE (- for standard input); line breaks are kept.")
    var promptFile: String?
    @Argument(help: "The prompt, or - to read it from standard input.") var prompt: String?

    func validate() throws {
        switch (prompt, promptFile) {
        case (nil, nil): throw ValidationError("expected a prompt, - (standard input) or --prompt-file FILE")
        case (.some, .some): throw ValidationError("give the prompt or --prompt-file, not both")
        default: break
        }
    }

    func text() throws -> String {
        let source = promptFile ?? prompt!
        guard promptFile != nil || source == "-" else { return source }
        let data: Data
        if source == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard FileManager.default.fileExists(atPath: source) else { throw CheckpointError(file: source, "no such file") }
            guard let read = FileManager.default.contents(atPath: source) else { throw CheckpointError(file: source, "cannot read it") }
            data = read
        }
        let name = source == "-" ? "standard input" : source
        guard var text = String(data: data, encoding: .utf8) else {
            let bad = Self.firstInvalidByte(data)
            throw CheckpointError(file: name, "not UTF-8 text (byte \(bad))")
        }
        if text.hasSuffix("\r\n") { text.removeLast() } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// Offset of the first byte where `data` stops being valid UTF-8.
    static func firstInvalidByte(_ data: Data) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var offset = 0
        while case .valid(let scalar) = parser.parseScalar(from: &bytes) { offset += scalar.count }
        return offset
    }
}

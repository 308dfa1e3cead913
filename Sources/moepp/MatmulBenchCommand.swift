import ArgumentParser
import Foundation
import MoEKit

struct MatmulBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul-bench",
        abstract: "Batch-product (prompt path) GFLOP/s of each method for f32/f16/bf16 weights by token count (interleaved rounds).")

    @Option var rows = 4096
    @Option var cols = 2048
    @Option(help: "Weight format: f32, f16 or bf16.") var format = "bf16"
    @Option(help: "Token counts, comma-separated.") var tokens = "2,4,8,16,32,64,128"
    @Option(help: "Methods, comma-separated: \(Kernels.ElementMatmulMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var methods = Kernels.ElementMatmulMethod.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Rounds; figures are medians with min–max.") var rounds = 5
    @Option(name: .customLong("pool-mb"), help: "Bytes of copies of the matrix each method cycles through.") var poolMegabytes = 128

    func parsed() throws -> (WeightFormat, [Int], [Kernels.ElementMatmulMethod]) {
        guard let weightFormat = WeightFormat(rawValue: format.uppercased()), weightFormat.elementsPerBlock == 1 else {
            throw ValidationError("--format: \(format) is not f32, f16 or bf16")
        }
        let counts = try tokens.split(separator: ",").map { part -> Int in
            guard let n = Int(part), n >= 1 else { throw ValidationError("--tokens: '\(part)' is not a count ≥ 1") }
            return n
        }
        let chosen = try methods.split(separator: ",").map { part -> Kernels.ElementMatmulMethod in
            guard let method = Kernels.ElementMatmulMethod(rawValue: String(part)) else { throw ValidationError("--methods: unknown method '\(part)'") }
            return method
        }
        guard !counts.isEmpty, !chosen.isEmpty else { throw ValidationError("--tokens and --methods: at least one each") }
        return (weightFormat, counts, chosen)
    }

    func validate() throws {
        guard rows >= 1, cols >= 1, rounds >= 1, poolMegabytes >= 1 else { throw ValidationError("--rows, --cols, --rounds and --pool-mb: at least 1") }
        _ = try parsed()
    }

    func run() throws {
        let (weightFormat, counts, chosen) = try parsed()
        print("\(weightFormat.name) \(rows)×\(cols), \(Parallel.coreCount) threads, \(rounds) interleaved rounds, GFLOP/s median (min–max)")
        print("tokens | " + chosen.map(\.rawValue).joined(separator: " | "))
        let results = MatmulBenchmark.run(format: weightFormat, rows: rows, cols: cols, tokens: counts, methods: chosen,
                                          poolBytes: poolMegabytes << 20, rounds: rounds)
        for t in counts {
            let cells = chosen.map { method -> String in
                let rates = results.first { $0.tokens == t && $0.method == method }!.rates
                return String(format: "%.1f (%.1f–%.1f)", Statistics.median(rates) / 1e9, rates.min()! / 1e9, rates.max()! / 1e9)
            }
            print("\(t) | " + cells.joined(separator: " | "))
        }
    }
}

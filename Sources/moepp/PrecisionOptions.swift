import ArgumentParser
import MoEKit

/// `--bf16-activations`: the process-wide `ComputePrecision`, set before a model runs.
struct PrecisionOptions: ParsableArguments {
    @Flag(name: .customLong("bf16-activations"), help: ArgumentHelp(
        "Multiply bf16 weights by activations rounded to bf16 (AVX-512 BF16 vdpbf16ps, f32 sums), as llama.cpp and PyTorch-in-bf16 do.",
        discussion: "Only bf16 weights are affected. Default: activations stay f32 (exact widening of the weights). Needs a CPU with AVX-512 BF16."))
    var bf16Activations = false

    var precision: ComputePrecision { bf16Activations ? .bf16Activations : .exact }

    /// Refused on a CPU without AVX-512 BF16 before anything loads.
    func apply() throws {
        do { try ComputePrecision.set(precision) } catch let error as ComputePrecisionError {
            throw ValidationError("--bf16-activations: \(error.reason)")
        }
    }
}

import CQuantKernels
import Synchronization

/// How products with bf16 weights treat the activations. Only bf16 weights are affected: f32,
/// f16 and the block formats compute as they always do.
public enum ComputePrecision: UInt8, Sendable, CaseIterable {
    /// The activations stay f32; each bf16 weight widens to f32 exactly (the default).
    case exact = 0
    /// The activations are rounded to bf16 (to nearest, ties to even) once per product and
    /// multiplied by the bf16 weights with AVX-512 BF16's vdpbf16ps, summing in f32 — what
    /// llama.cpp does with bf16 weights on a CPU with those instructions, and PyTorch with a model
    /// in bf16. For comparing with them like for like; needs AVX-512 BF16 (BF16DotKernels.swift).
    case bf16Activations = 1

    /// The process-wide setting. An atomic, so any thread may read or set it at any time; every
    /// product reads it once, before it starts (so no product mixes the two), which means a change
    /// reaches the products that start after it. The CLI sets it once, before loading a model.
    private static let setting = Atomic<UInt8>(ComputePrecision.exact.rawValue)

    public static var current: ComputePrecision {
        ComputePrecision(rawValue: setting.load(ordering: .relaxed)) ?? .exact
    }

    /// Sets the process-wide precision; refuses one this CPU cannot run.
    public static func set(_ precision: ComputePrecision) throws {
        if let reason = precision.unsupportedReason(cpuHasAVX512BF16: Kernels.hasAVX512BF16) {
            throw ComputePrecisionError(reason: reason)
        }
        setting.store(precision.rawValue, ordering: .relaxed)
    }

    /// Why this CPU cannot run `self`, or nil when it can.
    func unsupportedReason(cpuHasAVX512BF16: Bool) -> String? {
        guard self == .bf16Activations, !cpuHasAVX512BF16 else { return nil }
        return "bf16 activations need a CPU with AVX-512 BF16 (vdpbf16ps); this one has none (see `grep avx512_bf16 /proc/cpuinfo`)"
    }

    /// For reports: what the products compute.
    public var label: String {
        switch self {
        case .exact: return "exact (f32 activations)"
        case .bf16Activations: return "bf16 activations (vdpbf16ps, f32 sums)"
        }
    }
}

public struct ComputePrecisionError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// How a model's checkpoint files are brought into memory (`--no-mmap` chooses `.copied`).
///
/// - `mapped`: each file is mapped read-only and weights are viewed in place; pages come from
///   the page cache when a kernel first touches them, and a model larger than RAM still runs.
/// - `copied`: each file is read once into anonymous memory advised for transparent huge pages
///   (`MappedFile`). Same bytes, so the same logits bit for bit; decode streams the weights
///   faster (f32 1.1 B: +11–20%, BENCHMARKS.md "Weights in huge pages"), at the price of a copy
///   at load and the whole model resident.
public enum WeightLoading: Sendable, Equatable {
    case mapped
    case copied
}

/// How a model's checkpoint files are brought into memory (`--no-mmap` chooses `.copied`).
///
/// - `mapped`: each file is mapped read-only and weights are viewed in place; pages come from
///   the page cache when a kernel first touches them, and a model larger than RAM still runs.
/// - `copied`: each file is read once into anonymous memory advised for transparent huge pages
///   (`MappedFile`). Same bytes, so the same logits bit for bit; decode streams the weights
///   faster (f32 1.1 B: +11–20%, BENCHMARKS.md "Weights in huge pages"), at the price of a copy
///   at load and the whole model resident.
/// - `mappedFromDisk`: mapped, after dropping the file's cached pages (`POSIX_FADV_DONTNEED`:
///   clean pages no process maps), so that the mapping reads them once more from disk, in 2 MiB
///   folios under its huge-page advice. Pages an earlier reader cached are mostly 4 KiB ones and
///   this kernel cannot collapse file pages (`--refresh-page-cache`; the streaming checkpoint writers drop their pages, `WrittenPages`).
public enum WeightLoading: Sendable, Equatable {
    case mapped
    case copied
    case mappedFromDisk
}

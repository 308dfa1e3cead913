import ArgumentParser
import MoEKit

/// How checkpoint files are brought into memory (`WeightLoading`): shared by every command that
/// loads a model, `bench` included.
struct LoadingOptions: ParsableArguments {
    @Flag(name: .customLong("no-mmap"), help: "Copy the checkpoint files into huge-page memory at load instead of serving weights from their mapping (faster decode; the whole model resident in RAM).")
    var noMmap = false

    @Flag(name: .customLong("refresh-page-cache"), help: ArgumentHelp(
        "Drop the checkpoint files' cached pages before mapping them, so that they are read again from disk in 2 MiB pages.",
        discussion: "Pages cached by an earlier reader or writer (a copy, a download, another tool) are mostly 4 KiB ones, and stay so; read again through moepp's mapping they come in 2 MiB folios (faster decode). Costs one read of the model from disk. The files `moepp quantize` and `moepp synthesize` write leave no pages behind."))
    var refreshPageCache = false

    // --row-major-q4k: the name before Q6_K had the layout too, kept for scripts.
    @Flag(name: [.customLong("row-major"), .customLong("row-major-q4k")], help: ArgumentHelp(
        "Keep Q8_0, Q4_0, Q4_K, Q5_K and Q6_K matrices in the file's row-major layout instead of interleaving them in groups of eight rows at load.",
        discussion: "On CPUs with AVX-512 VNNI, moepp rewrites Q8_0, Q4_0, Q4_K, Q5_K and Q6_K matrices at load into eight-row groups its faster kernels read (a copy in memory; the file's pages are released); on other x86-64 CPUs, Q4_K ones (an AVX2 kernel). --row-major-q4k is the same flag."))
    var rowMajor = false

    /// Sets the process-wide `RowInterleaving` before a model loads; with an expert cache the
    /// routed experts stay as stored (the cache reads them from the file).
    func applyInterleaving(expertCache: Bool) {
        let chosen: RowInterleaving = rowMajor ? .off : .all
        RowInterleaving.set(expertCache ? chosen.sparingRoutedExperts : chosen)
    }

    func validate() throws {
        if noMmap && refreshPageCache {
            throw ValidationError("--refresh-page-cache does not apply with --no-mmap (the copy reads the files once anyway): give one of them")
        }
    }

    var loading: WeightLoading { noMmap ? .copied : refreshPageCache ? .mappedFromDisk : .mapped }
}

import Foundation

/// What a checkpoint writer does with the page cache once its file is complete and synced.
///
/// Why: the pages a writer leaves in the page cache are 4 KiB folios, and they stay so as long as
/// they are cached; a model mapped from them (`MappedFile`, advised `MADV_HUGEPAGE`) streams its
/// weights through 4 KiB pages. Dropped, the first reader's mapping brings them back in 2 MiB
/// folios. Measured on the 7B MoE++ at Q8_0 as `moepp quantize` left it: decode 12.5–14.2 tok/s
/// from the writer's pages, 16.1–17.8 after a re-read (BENCHMARKS.md "Pages a writer leaves").
/// The price is one read from disk at the next load.
enum WrittenPages {
    /// Drops the file's cached pages. Only after `fsync`: dirty pages are not dropped.
    static func release(_ descriptor: Int32) {
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
    }
}

import Foundation

/// A whole file mapped read-only into memory. Weight views point into it, so the checkpoint is
/// never copied; pages are read from disk (or the page cache) when a kernel first touches them.
///
/// The mapping is advised `MADV_HUGEPAGE`: pages the kernel reads from disk through it then come
/// into the page cache as 2 MiB folios and are mapped with 2 MiB entries, and a decode step, which
/// streams every weight once, pays one page walk per 2 MiB instead of per 4 KiB (BENCHMARKS.md,
/// "An honest roofline, and the 7B at it"). Pages already cached in small folios stay small (this
/// kernel cannot collapse file pages: no READ_ONLY_THP_FOR_FS); loading `.mappedFromDisk` drops a
/// file's cached pages first so that they are read again, once, in 2 MiB folios.
///
/// Or, loaded `.copied` (`--no-mmap`, see `WeightLoading`), the file is read once into anonymous
/// memory advised for transparent huge pages and the mapping dropped. Why: the page cache maps a
/// file mostly in 4 KiB pages, and a decode step streams every weight once, so it pays a page
/// walk per 4 KiB; in 2 MiB pages the same kernels streamed ~15% faster on the f32 1.1 B
/// (BENCHMARKS.md, "Weights in huge pages"). The price: a copy at load, the whole file resident
/// (no paging from disk), so it is not for models larger than RAM or for the expert cache.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int
    /// Whether `base` is an anonymous copy rather than the file's mapping.
    public let isCopy: Bool

    public init(path: String, loading: WeightLoading = .mapped) throws {
        self.path = path
        let (descriptor, fileSize) = try SmallFile.openRegular(path)
        defer { close(descriptor) }
        size = fileSize
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16))
            isCopy = false
            return
        }
        if loading == .mappedFromDisk { _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED)) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw CheckpointError(file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        if loading == .copied {
            guard let copy = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), copy != MAP_FAILED else {
                munmap(mapped, size)
                throw CheckpointError(file: path, "cannot allocate \(size) bytes to copy it into memory: \(String(cString: strerror(errno)))")
            }
            _ = madvise(copy, size, Int32(MADV_HUGEPAGE))
            copy.copyMemory(from: mapped, byteCount: size)
            munmap(mapped, size)
            _ = mprotect(copy, size, PROT_READ)
            base = UnsafeRawPointer(copy)
            isCopy = true
        } else {
            _ = madvise(mapped, size, Int32(MADV_HUGEPAGE))
            base = UnsafeRawPointer(mapped)
            isCopy = false
        }
    }

    /// Asks the kernel not to read ahead around faults: with an expert cache, only the resident
    /// tensors are touched through the mapping, and read-ahead would pull experts in with them
    /// (so would a 2 MiB folio read around a fault: the huge-page advice is withdrawn too).
    public func adviseRandomAccess() {
        guard size > 0 && !isCopy else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_NOHUGEPAGE))
        _ = madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_RANDOM))
    }

    /// Drops the pages covering bytes [offset, offset + count) from this process (the page
    /// cache keeps them). Rounded out to whole pages: harmless for neighbours, since the mapping
    /// is read-only and a dropped page faults back in from the file unchanged. A copy keeps its
    /// pages: dropped anonymous pages would come back as zeros.
    public func dropPages(offset: Int, count: Int) {
        guard !isCopy else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page, end = min(size, (offset + count + page - 1) / page * page)
        if size > 0 && end > start { _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED)) }
    }

    deinit {
        if size == 0 { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}

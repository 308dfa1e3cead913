import Foundation

/// A whole file mapped read-only into memory. Weight views point into it, so the checkpoint is
/// never copied; pages are read from disk (or the page cache) when a kernel first touches them.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        self.path = path
        let (descriptor, fileSize) = try SmallFile.openRegular(path)
        defer { close(descriptor) }
        size = fileSize
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16))
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw CheckpointError(file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    /// Asks the kernel not to read ahead around faults: with an expert cache, only the resident
    /// tensors are touched through the mapping, and read-ahead would pull experts in with them.
    public func adviseRandomAccess() {
        if size > 0 { _ = madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_RANDOM)) }
    }

    /// Drops the pages covering bytes [offset, offset + count) from this process (the page
    /// cache keeps them). Rounded out to whole pages: harmless for neighbours, since the mapping
    /// is read-only and a dropped page faults back in from the file unchanged.
    public func dropPages(offset: Int, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page, end = min(size, (offset + count + page - 1) / page * page)
        if size > 0 && end > start { _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED)) }
    }

    deinit {
        if size == 0 { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}

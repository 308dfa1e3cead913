import Foundation

/// Writes a zip of stored (uncompressed) entries one at a time, streaming each entry's bytes, so
/// that an archive of many gigabytes is never held in memory. Each entry's data can be aligned
/// (torch.save puts storages on 64-byte boundaries so that readers can map them) by padding the
/// local header's extra field, as torch does, with a record of id "FB". Sizes are known before the
/// data is written; the CRC is not, so it is patched into the local header afterwards. Zip64
/// records are written only when a size, an offset or the entry count needs them (or when forced,
/// for tests of the zip64 path on small files).
final class ZipWriter {
    let path: String
    /// Writes zip64 extra fields and end records even where 32-bit fields would do.
    var forceZip64 = false

    private struct WrittenEntry {
        var name: [UInt8]
        var size: Int
        var crc32: UInt32
        var localHeaderOffset: Int
    }

    private let descriptor: Int32
    private var entries: [WrittenEntry] = []
    private var buffered: [UInt8] = []
    private var flushedBytes = 0
    private var closed = false
    private static let bufferCapacity = 1 << 20
    private static let saturated32 = 0xFFFF_FFFF

    /// Creates (or truncates) the file at `path`.
    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CheckpointError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        buffered.reserveCapacity(Self.bufferCapacity)
    }

    deinit { if !closed { close(descriptor) } }

    /// Bytes written so far, including those still buffered.
    var position: Int { flushedBytes + buffered.count }

    var entryCount: Int { entries.count }

    /// Adds an entry of exactly `size` bytes, which `produce` hands over in chunks of any size.
    func addEntry(name: String, size: Int, alignment: Int = 1,
                  produce: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        precondition(!closed && size >= 0 && (1...0x8000).contains(alignment))
        let headerOffset = position
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 0xFFFF else { throw CheckpointError(file: path, "zip entry name of \(nameBytes.count) bytes is too long") }
        try append(localHeader(name: nameBytes, size: size, at: headerOffset, alignment: alignment))

        var crc = CRC32()
        var written = 0
        try produce { chunk in
            guard chunk.count <= size - written else {
                throw CheckpointError(file: self.path, "zip entry \(name.quotedForMessage): given more than its \(size) bytes")
            }
            crc.update(chunk)
            written += chunk.count
            try self.append(chunk)
        }
        guard written == size else {
            throw CheckpointError(file: path, "zip entry \(name.quotedForMessage): given \(written) of its \(size) bytes")
        }
        try flush()
        var checksum = crc.checksum.littleEndian
        try withUnsafeBytes(of: &checksum) { try writeFully($0, at: headerOffset + 14) }
        entries.append(WrittenEntry(name: nameBytes, size: size, crc32: crc.checksum, localHeaderOffset: headerOffset))
    }

    func addEntry(name: String, bytes: [UInt8], alignment: Int = 1) throws {
        try addEntry(name: name, size: bytes.count, alignment: alignment) { write in try bytes.withUnsafeBytes { try write($0) } }
    }

    /// Writes the central directory (in `order`, by name, if given; entries not named follow in
    /// the order they were added) and the end records, syncs the file, drops its pages from the
    /// page cache (`WrittenPages`) and closes it.
    func finish(directoryOrder order: [String] = []) throws {
        precondition(!closed)
        let rank = Dictionary(order.enumerated().map { (Array($0.element.utf8), $0.offset) }, uniquingKeysWith: { first, _ in first })
        let sorted = entries.enumerated().sorted { (rank[$0.element.name] ?? order.count + $0.offset) < (rank[$1.element.name] ?? order.count + $1.offset) }.map(\.element)
        let directoryOffset = position
        for entry in sorted { try append(centralHeader(entry)) }
        let directorySize = position - directoryOffset
        let needsZip64 = forceZip64 || entries.count >= 0xFFFF || directoryOffset >= Self.saturated32 || directorySize >= Self.saturated32
        if needsZip64 {
            let recordOffset = position
            var record = ZipBytes()
            record.u32(0x0606_4B50)
            record.u64(44)                          // size of the rest of this record
            record.u16(45); record.u16(45)          // made by, needed: 4.5, the zip64 version
            record.u32(0); record.u32(0)            // this disk, directory's disk
            record.u64(UInt64(entries.count)); record.u64(UInt64(entries.count))
            record.u64(UInt64(directorySize)); record.u64(UInt64(directoryOffset))
            record.u32(0x0706_4B50)                 // locator
            record.u32(0); record.u64(UInt64(recordOffset)); record.u32(1)
            try append(record.bytes)
        }
        var end = ZipBytes()
        end.u32(0x0605_4B50)
        end.u16(0); end.u16(0)
        let count = needsZip64 ? 0xFFFF : entries.count
        end.u16(UInt16(count)); end.u16(UInt16(count))
        end.u32(UInt32(needsZip64 ? Self.saturated32 : directorySize))
        end.u32(UInt32(needsZip64 ? Self.saturated32 : directoryOffset))
        end.u16(0)                                  // comment length
        try append(end.bytes)
        try flush()
        guard fsync(descriptor) == 0 else { throw CheckpointError(file: path, "cannot sync: \(String(cString: strerror(errno)))") }
        WrittenPages.release(descriptor)
        closed = true
        guard close(descriptor) == 0 else { throw CheckpointError(file: path, "cannot close: \(String(cString: strerror(errno)))") }
    }

    // MARK: - Records

    private func localHeader(name: [UInt8], size: Int, at offset: Int, alignment: Int) -> [UInt8] {
        let zip64 = forceZip64 || size >= Self.saturated32
        var extra = ZipBytes()
        if zip64 {
            // In a local header the zip64 record holds both sizes, whichever is saturated.
            extra.u16(1); extra.u16(16); extra.u64(UInt64(size)); extra.u64(UInt64(size))
        }
        // The padding record is always present (as torch writes it), at least its 4-byte header.
        let unpaddedEnd = offset + 30 + name.count + extra.bytes.count + 4
        let padding = (alignment - unpaddedEnd % alignment) % alignment
        extra.u16(0x4246); extra.u16(UInt16(padding))  // "FB"
        extra.bytes += [UInt8](repeating: UInt8(ascii: "Z"), count: padding)

        var header = ZipBytes()
        header.u32(0x0403_4B50)
        header.u16(zip64 ? 45 : 20)
        header.u16(Self.utf8NamesFlag)
        header.u16(0)                               // stored
        header.u16(0); header.u16(Self.dosDate)     // modification time and date: fixed, so output is reproducible
        header.u32(0)                               // CRC, patched once the data is written
        header.u32(UInt32(zip64 ? Self.saturated32 : size)); header.u32(UInt32(zip64 ? Self.saturated32 : size))
        header.u16(UInt16(name.count)); header.u16(UInt16(extra.bytes.count))
        return header.bytes + name + extra.bytes
    }

    private func centralHeader(_ entry: WrittenEntry) -> [UInt8] {
        let bigSize = forceZip64 || entry.size >= Self.saturated32
        let bigOffset = forceZip64 || entry.localHeaderOffset >= Self.saturated32
        // The zip64 record lists, in this order, exactly the fields saturated in the header.
        var extra = ZipBytes()
        if bigSize || bigOffset {
            extra.u16(1); extra.u16(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)))
            if bigSize { extra.u64(UInt64(entry.size)); extra.u64(UInt64(entry.size)) }
            if bigOffset { extra.u64(UInt64(entry.localHeaderOffset)) }
        }
        var header = ZipBytes()
        header.u32(0x0201_4B50)
        header.u16(45)                              // made by: 4.5, MS-DOS attributes
        header.u16(bigSize || bigOffset ? 45 : 20)
        header.u16(Self.utf8NamesFlag)
        header.u16(0)
        header.u16(0); header.u16(Self.dosDate)
        header.u32(entry.crc32)
        header.u32(UInt32(bigSize ? Self.saturated32 : entry.size)); header.u32(UInt32(bigSize ? Self.saturated32 : entry.size))
        header.u16(UInt16(entry.name.count)); header.u16(UInt16(extra.bytes.count)); header.u16(0)
        header.u16(0); header.u16(0); header.u32(0) // disk, internal and external attributes
        header.u32(UInt32(bigOffset ? Self.saturated32 : entry.localHeaderOffset))
        return header.bytes + entry.name + extra.bytes
    }

    private static let utf8NamesFlag: UInt16 = 0x0800
    /// 1980-01-01, the earliest DOS date.
    private static let dosDate: UInt16 = (0 << 9) | (1 << 5) | 1

    // MARK: - Output

    private func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Small writes gather in a buffer; a chunk at least as large as the buffer goes straight to
    /// the file.
    private func append(_ bytes: UnsafeRawBufferPointer) throws {
        if buffered.count + bytes.count > Self.bufferCapacity { try flush() }
        if bytes.count >= Self.bufferCapacity {
            try writeFully(bytes, at: flushedBytes)
            flushedBytes += bytes.count
        } else {
            buffered.append(contentsOf: bytes)
        }
    }

    private func flush() throws {
        try buffered.withUnsafeBytes { try writeFully($0, at: flushedBytes) }
        flushedBytes += buffered.count
        buffered.removeAll(keepingCapacity: true)
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw CheckpointError(file: path, "cannot write at byte \(offset + done): \(String(cString: strerror(errno)))") }
            done += result
        }
    }
}

/// Little-endian record building.
struct ZipBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
}

/// The part of the zip format that `torch.save` writes, read in place from a mapped file: the
/// end-of-central-directory record (and its zip64 form, for archives past 4 GB), the central
/// directory, and each entry's local header, which is only read for where the data starts.
/// Sizes and offsets come from the central directory because torch's local headers leave them
/// zero and put them in data descriptors after the data. Every range is checked against the file,
/// so that a truncated or lying archive is an error and never a read outside the mapping.
struct ZipArchive {
    struct Entry {
        let name: String
        /// 0 is stored; anything else is compressed, which torch.save never writes.
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
        /// First byte of the entry's data: after the local header, its name and its extra field
        /// (whose padding is what puts torch's storages on 64-byte boundaries).
        let dataOffset: Int
    }

    let file: MappedFile
    /// In central-directory order.
    let entries: [Entry]
    private let indexByName: [String: Int]

    init(file: MappedFile) throws {
        self.file = file
        let bytes = LittleEndianBytes(file: file)
        let directory = try Self.locateCentralDirectory(bytes)
        var entries: [Entry] = []
        entries.reserveCapacity(directory.entryCount)
        var indexByName: [String: Int] = [:]
        var position = directory.offset
        let end = directory.offset + directory.size
        for number in 0..<directory.entryCount {
            let entry = try Self.readCentralEntry(bytes, at: &position, end: end, number: number)
            guard indexByName.updateValue(entries.count, forKey: entry.name) == nil else {
                throw bytes.fail("zip central directory entry \(number) \(entry.name.quotedForMessage) at byte \(entry.localHeaderOffset): duplicate name")
            }
            entries.append(entry)
        }
        self.entries = entries
        self.indexByName = indexByName
    }

    func entry(named name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    /// The entry's bytes, in place. Only stored, unencrypted entries can be viewed without copying,
    /// and those are all torch.save writes.
    func storedBytes(of entry: Entry) throws -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw CheckpointError(file: file.path, "zip entry \(entry.name.quotedForMessage) at byte \(entry.localHeaderOffset): compression method \(entry.method) (only stored entries, method 0, can be mapped)")
        }
        guard entry.flags & 1 == 0 else {
            throw CheckpointError(file: file.path, "zip entry \(entry.name.quotedForMessage) at byte \(entry.localHeaderOffset): encrypted")
        }
        guard entry.compressedSize == entry.size else {
            throw CheckpointError(file: file.path, "zip entry \(entry.name.quotedForMessage) at byte \(entry.localHeaderOffset): stored entry with compressed size \(entry.compressedSize) ≠ size \(entry.size)")
        }
        return UnsafeRawBufferPointer(start: file.base + entry.dataOffset, count: entry.size)
    }

    // MARK: - End of central directory

    private struct CentralDirectory {
        var entryCount: Int
        var offset: Int
        var size: Int
    }

    private static let endRecordSize = 22
    private static let zip64LocatorSize = 20
    private static let zip64EndRecordSize = 56

    /// The end record sits at the very end, before a comment of at most 64 KiB; search backwards.
    private static func locateCentralDirectory(_ bytes: LittleEndianBytes) throws -> CentralDirectory {
        let size = bytes.count
        guard size >= endRecordSize else { throw bytes.fail("not a zip archive: \(size) bytes, too short for an end-of-central-directory record (truncated?)") }
        var end = -1
        var candidate = size - endRecordSize
        let lowest = max(0, size - endRecordSize - 0xFFFF)
        while candidate >= lowest {
            if bytes.u32(candidate) == 0x0605_4B50, candidate + endRecordSize + Int(bytes.u16(candidate + 20)) <= size {
                end = candidate
                break
            }
            candidate -= 1
        }
        guard end >= 0 else { throw bytes.fail("not a zip archive: no end-of-central-directory record in the last \(size - lowest) bytes (truncated?)") }
        guard bytes.u16(end + 4) == 0, bytes.u16(end + 6) == 0 else {
            throw bytes.fail("zip end record at byte \(end): multi-disk archives are not supported")
        }
        var directory = CentralDirectory(entryCount: Int(bytes.u16(end + 10)), offset: Int(bytes.u32(end + 16)), size: Int(bytes.u32(end + 12)))
        let locator = end - zip64LocatorSize
        if locator >= 0, bytes.u32(locator) == 0x0706_4B50 {
            directory = try readZip64EndRecord(bytes, locator: locator)
        } else if directory.entryCount == 0xFFFF || directory.offset == 0xFFFF_FFFF || directory.size == 0xFFFF_FFFF {
            throw bytes.fail("zip end record at byte \(end): fields saturated for zip64 but no zip64 locator before it")
        }
        guard directory.offset <= size, directory.size <= size - directory.offset else {
            throw bytes.fail("zip central directory at byte \(directory.offset), \(directory.size) bytes, runs beyond the file (\(size) bytes; truncated?)")
        }
        // Every entry takes at least 46 bytes, which bounds the count before anything is allocated.
        guard directory.entryCount <= directory.size / 46 else {
            throw bytes.fail("zip central directory at byte \(directory.offset): \(directory.entryCount) entries cannot fit in \(directory.size) bytes")
        }
        return directory
    }

    private static func readZip64EndRecord(_ bytes: LittleEndianBytes, locator: Int) throws -> CentralDirectory {
        guard bytes.u32(locator + 4) == 0, bytes.u32(locator + 16) <= 1 else {
            throw bytes.fail("zip64 locator at byte \(locator): multi-disk archives are not supported")
        }
        let recordOffset = try bytes.offset(bytes.u64(locator + 8), what: "zip64 locator at byte \(locator): end record offset")
        guard recordOffset <= locator - zip64EndRecordSize else {
            throw bytes.fail("zip64 locator at byte \(locator): end record offset \(recordOffset) is not before the locator")
        }
        guard bytes.u32(recordOffset) == 0x0606_4B50 else {
            throw bytes.fail("zip64 end record at byte \(recordOffset): bad signature")
        }
        let what = "zip64 end record at byte \(recordOffset)"
        return CentralDirectory(
            entryCount: try bytes.offset(bytes.u64(recordOffset + 32), what: "\(what): entry count"),
            offset: try bytes.offset(bytes.u64(recordOffset + 48), what: "\(what): central directory offset"),
            size: try bytes.offset(bytes.u64(recordOffset + 40), what: "\(what): central directory size"))
    }

    // MARK: - Entries

    private static let centralHeaderSize = 46
    private static let localHeaderSize = 30

    private static func readCentralEntry(_ bytes: LittleEndianBytes, at position: inout Int, end: Int, number: Int) throws -> Entry {
        let start = position
        func fail(_ why: String) -> CheckpointError { bytes.fail("zip central directory entry \(number) at byte \(start): \(why)") }
        guard centralHeaderSize <= end - start else { throw fail("runs beyond the central directory (truncated?)") }
        guard bytes.u32(start) == 0x0201_4B50 else { throw fail("bad signature") }
        let nameLength = Int(bytes.u16(start + 28))
        let extraLength = Int(bytes.u16(start + 30))
        let commentLength = Int(bytes.u16(start + 32))
        guard nameLength + extraLength + commentLength <= end - start - centralHeaderSize else {
            throw fail("name, extra field and comment run beyond the central directory")
        }
        let name = bytes.string(start + centralHeaderSize, count: nameLength)
        func failNamed(_ why: String) -> CheckpointError { bytes.fail("zip central directory entry \(number) \(name.quotedForMessage) at byte \(start): \(why)") }
        guard bytes.u16(start + 34) == 0 || bytes.u16(start + 34) == 0xFFFF else { throw failNamed("entry on another disk") }

        // Saturated 32-bit fields are replaced, in this order, by the zip64 extra field's values.
        var size = UInt64(bytes.u32(start + 24))
        var compressedSize = UInt64(bytes.u32(start + 20))
        var localHeaderOffset = UInt64(bytes.u32(start + 42))
        let extraStart = start + centralHeaderSize + nameLength
        if size == 0xFFFF_FFFF || compressedSize == 0xFFFF_FFFF || localHeaderOffset == 0xFFFF_FFFF {
            guard var field = try findZip64Extra(bytes, from: extraStart, count: extraLength, fail: failNamed) else {
                throw failNamed("saturated size or offset but no zip64 extra field")
            }
            func next(_ label: String) throws -> UInt64 {
                guard field.count >= 8 else { throw failNamed("zip64 extra field too short for the \(label)") }
                let value = bytes.u64(field.start)
                field = (field.start + 8, field.count - 8)
                return value
            }
            if size == 0xFFFF_FFFF { size = try next("size") }
            if compressedSize == 0xFFFF_FFFF { compressedSize = try next("compressed size") }
            if localHeaderOffset == 0xFFFF_FFFF { localHeaderOffset = try next("local header offset") }
        }
        position = extraStart + extraLength + commentLength

        let local = try bytes.offset(localHeaderOffset, what: "zip entry \(name.quotedForMessage): local header offset")
        guard local <= bytes.count - localHeaderSize else {
            throw failNamed("local header at byte \(local) runs beyond the file (\(bytes.count) bytes; truncated?)")
        }
        guard bytes.u32(local) == 0x0403_4B50 else { throw failNamed("no local header signature at byte \(local)") }
        let localNameLength = Int(bytes.u16(local + 26))
        let dataOffset = local + localHeaderSize + localNameLength + Int(bytes.u16(local + 28))
        guard dataOffset <= bytes.count else { throw failNamed("local header at byte \(local): name and extra field run beyond the file") }
        guard bytes.string(local + localHeaderSize, count: localNameLength) == name else {
            throw failNamed("local header at byte \(local) names a different entry")
        }
        let stored = try bytes.offset(compressedSize, what: "zip entry \(name.quotedForMessage): compressed size")
        guard stored <= bytes.count - dataOffset else {
            throw failNamed("data at byte \(dataOffset), \(stored) bytes, runs beyond the file (\(bytes.count) bytes; truncated?)")
        }
        return Entry(name: name, method: bytes.u16(start + 10), flags: bytes.u16(start + 8), crc32: bytes.u32(start + 16),
                     compressedSize: stored, size: try bytes.offset(size, what: "zip entry \(name.quotedForMessage): size"),
                     localHeaderOffset: local, dataOffset: dataOffset)
    }

    /// The data of the extra-field record with id 1 (zip64), if any.
    private static func findZip64Extra(_ bytes: LittleEndianBytes, from start: Int, count: Int,
                                       fail: (String) -> CheckpointError) throws -> (start: Int, count: Int)? {
        var position = start
        let end = start + count
        while end - position >= 4 {
            let id = bytes.u16(position)
            let length = Int(bytes.u16(position + 2))
            guard length <= end - position - 4 else { throw fail("extra field record at byte \(position) runs beyond the extra field") }
            if id == 1 { return (position + 4, length) }
            position += 4 + length
        }
        return nil
    }
}

/// Unaligned little-endian loads from a mapped file. Callers check ranges first; the loads trap
/// rather than read outside the mapping if one is ever missed.
struct LittleEndianBytes {
    let file: MappedFile
    var count: Int { file.size }

    func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: load(offset, as: UInt16.self)) }
    func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: load(offset, as: UInt32.self)) }
    func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: load(offset, as: UInt64.self)) }

    func string(_ offset: Int, count length: Int) -> String {
        precondition(offset >= 0 && length >= 0 && length <= count - offset, "string outside the file")
        return String(decoding: UnsafeRawBufferPointer(start: file.base + offset, count: length), as: UTF8.self)
    }

    /// A 64-bit file quantity as an Int, refusing values no file of this size could hold.
    func offset(_ value: UInt64, what: String) throws -> Int {
        guard value <= UInt64(count) else { throw fail("\(what) \(value) is beyond the file (\(count) bytes; truncated?)") }
        return Int(value)
    }

    func fail(_ detail: String) -> CheckpointError { CheckpointError(file: file.path, detail) }

    private func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
        precondition(offset >= 0 && MemoryLayout<T>.size <= count - offset, "read outside the file")
        return file.base.loadUnaligned(fromByteOffset: offset, as: T.self)
    }
}

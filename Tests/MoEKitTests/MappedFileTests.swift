import Foundation
import Testing
@testable import MoEKit

/// `MappedFile` served from its mapping and copied into (huge-page) memory: same bytes, and a
/// copy keeps them when pages are dropped (dropped anonymous pages would read back as zeros).
@Suite("Mapped files")
struct MappedFileTests {
    @Test func copyIntoMemoryHoldsTheFileAndKeepsItsPages() throws {
        // An awkward size: not a multiple of the page or of a huge page.
        let bytes = (0..<(3 << 20) + 12_345).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let path = NSTemporaryDirectory() + "mappedfile-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let mapped = try MappedFile(path: path, copyIntoMemory: false)
        let copied = try MappedFile(path: path, copyIntoMemory: true)
        #expect(!mapped.isCopy)
        #expect(copied.isCopy)
        #expect(copied.size == bytes.count)
        #expect(copied.base != mapped.base)
        #expect(Array(UnsafeRawBufferPointer(start: copied.base, count: copied.size)) == bytes)

        copied.dropPages(offset: 0, count: copied.size)
        copied.adviseRandomAccess()
        #expect(Array(UnsafeRawBufferPointer(start: copied.base, count: copied.size)) == bytes)
        mapped.dropPages(offset: 4096, count: 1 << 20)
        #expect(Array(UnsafeRawBufferPointer(start: mapped.base, count: mapped.size)) == bytes)
    }

    /// Dropping the file's cached pages before mapping (`--refresh-page-cache`) and the huge-page
    /// advice change where pages come from, never what they hold.
    @Test func refreshedMappingHoldsTheFile() throws {
        let bytes = (0..<(5 << 20) + 777).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 5) }
        let path = NSTemporaryDirectory() + "mappedfile-refresh-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let refreshed = try MappedFile(path: path, copyIntoMemory: false, refreshPageCache: true)
        #expect(!refreshed.isCopy)
        #expect(Array(UnsafeRawBufferPointer(start: refreshed.base, count: refreshed.size)) == bytes)
        refreshed.adviseRandomAccess()
        refreshed.dropPages(offset: 0, count: refreshed.size)
        #expect(Array(UnsafeRawBufferPointer(start: refreshed.base, count: refreshed.size)) == bytes)
    }

    @Test func emptyFileIsNeverCopied() throws {
        let path = NSTemporaryDirectory() + "mappedfile-empty-\(UUID().uuidString).bin"
        try Data().write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path, copyIntoMemory: true)
        #expect(file.size == 0)
        #expect(!file.isCopy)
    }
}

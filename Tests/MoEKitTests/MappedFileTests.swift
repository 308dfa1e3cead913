import Foundation
import Testing
@testable import MoEKit

/// `MappedFile` served from its mapping and copied into (huge-page) memory: same bytes, and a
/// copy keeps them when pages are dropped (dropped anonymous pages would read back as zeros);
/// a whole model loaded either way (`WeightLoading`, `--no-mmap`) gives the same logits.
@Suite("Mapped files")
struct MappedFileTests {
    @Test func copyIntoMemoryHoldsTheFileAndKeepsItsPages() throws {
        // An awkward size: not a multiple of the page or of a huge page.
        let bytes = (0..<(3 << 20) + 12_345).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let path = NSTemporaryDirectory() + "mappedfile-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let mapped = try MappedFile(path: path, loading: .mapped)
        let copied = try MappedFile(path: path, loading: .copied)
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
        let refreshed = try MappedFile(path: path, loading: .mappedFromDisk)
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
        let file = try MappedFile(path: path, loading: .copied)
        #expect(file.size == 0)
        #expect(!file.isCopy)
    }

    @Test("a model loaded copied (--no-mmap) gives the mapped model's logits bit for bit: safetensors, sharded .bin, GGUF",
          arguments: ["hf-mixtral", "torch-moepp", "gguf/mixtral-f32.gguf", "gguf/granitemoe-f16.gguf"])
    func copiedModelEqualsMapped(fixture: String) throws {
        let path = TestSupport.fixture(fixture)
        let tokens = [3, 17, 42, 5, 9, 60, 1, 33]
        func logits(_ loading: WeightLoading) throws -> (logits: [Float], copies: [Bool]) {
            let model = try ModelSource(path: path, loading: loading).transformer()
            let cache = model.makeCache()
            var all = try model.forward(tokens, cache: cache, allLogits: true).logits
            all += try model.forward([7], cache: cache).logits   // one decode step too
            return (all, model.weights.files.map(\.isCopy))
        }
        let (mapped, copied) = (try logits(.mapped), try logits(.copied))
        #expect(mapped.copies.allSatisfy { !$0 } && !mapped.copies.isEmpty)
        #expect(copied.copies.allSatisfy { $0 } && copied.copies.count == mapped.copies.count)
        #expect(copied.logits.map(\.bitPattern) == mapped.logits.map(\.bitPattern))
        #expect(mapped.logits.contains { $0 != 0 })
    }
}

import Foundation
import Testing
@testable import MoEKit

@Suite("Checkpoint writers leave no pages in the page cache")
struct WrittenPagesTests {
    /// How many of the file's pages the page cache holds (mincore on a mapping reports the cache,
    /// and asking faults nothing in).
    static func cachedPages(_ path: String) throws -> Int {
        let file = try MappedFile(path: path)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (file.size + page - 1) / page)
        #expect(mincore(UnsafeMutableRawPointer(mutating: file.base), file.size, &vector) == 0)
        return vector.filter { $0 & 1 == 1 }.count
    }

    /// Whether this file system drops clean pages on request at all (tmpfs, whose pages are the
    /// file, does not): a control file written plainly, synced and dropped by hand — not through
    /// `WrittenPages`, or a broken release would turn the test below into a skip.
    static func dropsPages(in directory: String) throws -> Bool {
        let path = directory + "/control"
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        _ = fsync(descriptor)
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
        return try cachedPages(path) == 0
    }

    @Test("safetensors, .bin and GGUF: after finish the file's pages are dropped (they would stay 4 KiB folios), and it reads back")
    func writersDropTheirPages() throws {
        let directory = TestSupport.temporaryDirectory()
        let checksCache = try Self.dropsPages(in: directory)
        let tensor = PlannedTensor(name: "w", format: .f32, shape: [256, 1024])   // 1 MiB: 256 pages
        let fill: (UnsafeMutableRawBufferPointer, Int) -> Void = { buffer, offset in
            for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: (offset + i) / 4096 + 1) }
        }
        let writers: [(String, any StreamingTensorWriter)] = [
            ("w.safetensors", try SafeTensorsStreamWriter(path: directory + "/w.safetensors", plan: [tensor])),
            ("w.gguf", try GGUFWriter(path: directory + "/w.gguf", metadata: [], plan: [tensor])),
            ("w.bin", try TorchCheckpointWriter(path: directory + "/w.bin")),
        ]
        for (name, writer) in writers {
            try writer.write(tensor, fill: fill)
            try writer.finish()
            if checksCache { #expect(try Self.cachedPages(directory + "/" + name) == 0, "\(name)") }
        }
        // Dropped from the cache, not lost: the data reads back from disk.
        let read = try SafeTensorsFile(path: directory + "/w.safetensors")
        let view = try #require(read.tensors["w"])
        let bytes = UnsafeRawBufferPointer(start: view.base, count: tensor.byteCount)
        #expect(bytes[0] == 1 && bytes[4096] == 2 && bytes[(1 << 20) - 1] == 0)
    }
}

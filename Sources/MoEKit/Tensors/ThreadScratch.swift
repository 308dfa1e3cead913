import Foundation

/// A per-thread byte buffer for a kernel's short-lived scratch (a product list's prepared inputs).
/// `withUnsafeTemporaryAllocation` puts at most 1 KiB, and nothing aligned to 64, on the stack;
/// beyond that it allocates on the heap per call — several times per decode step. This buffer
/// grows (doubling) to the largest request a thread makes and is then reused. A nested request on
/// the same thread (none today) falls back to a temporary allocation.
enum ThreadScratch {
    private final class Buffer {
        var base: UnsafeMutableRawPointer?
        var capacity = 0
        var inUse = false
        deinit { base?.deallocate() }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { stored in if let stored { Unmanaged<AnyObject>.fromOpaque(stored).release() } }
        return key
    }()

    /// Runs `body` on `count` bytes aligned to 64 (contents undefined).
    static func withBytes<R>(_ count: Int, _ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
        let buffer: Buffer
        if let stored = pthread_getspecific(key) {
            buffer = Unmanaged<Buffer>.fromOpaque(stored).takeUnretainedValue()
        } else {
            buffer = Buffer()
            pthread_setspecific(key, Unmanaged.passRetained(buffer).toOpaque())
        }
        guard !buffer.inUse else {
            return try withUnsafeTemporaryAllocation(byteCount: count, alignment: 64) { try body($0.baseAddress!) }
        }
        if buffer.capacity < count {
            buffer.base?.deallocate()
            buffer.capacity = max(count, 2 * buffer.capacity)
            buffer.base = .allocate(byteCount: buffer.capacity, alignment: 64)
        }
        buffer.inUse = true
        defer { buffer.inUse = false }
        return try body(buffer.base!)
    }
}

import Foundation

/// `Tokenizer.bytes(of:)` per id, built on first use and then kept: a streaming decoder asks for
/// every generated token, and building the bytes allocates each time. At most one entry per
/// vocabulary id; the lock because threads decoding with one tokenizer share it.
final class TokenBytesCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Int: [UInt8]] = [:]

    func bytes(of id: Int, _ make: () -> [UInt8]) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let known = entries[id] { return known }
        let made = make()
        entries[id] = made
        return made
    }
}

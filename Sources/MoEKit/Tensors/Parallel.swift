import Dispatch
import Foundation

/// Splits `0..<count` into one contiguous chunk per core and runs `body(range)` on each.
/// Small jobs run inline: waking a second thread costs more than a small matrix-vector product.
public enum Parallel {
    public static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public static func forChunks(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let chunks = (work < 1 << 16 || count < 2) ? 1 : min(coreCount, count)
        if chunks == 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            body(start..<end)
        }
    }
}

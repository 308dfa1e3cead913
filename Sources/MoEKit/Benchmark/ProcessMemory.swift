import Foundation

/// This process's memory as Linux reports it in /proc/self/status: the peak resident set
/// (VmHWM) and what is resident now split into anonymous memory (heap, caches, KV — what the
/// engine allocated) and file pages (the mapped checkpoint, which the kernel can drop and
/// re-read). "Weights mapped, not copied" shows as a small anonymous share.
public struct ProcessMemory: Sendable {
    public var peakResidentBytes: Int
    public var anonymousBytes: Int
    public var fileBytes: Int

    public static func current() -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        func kilobytes(_ key: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        guard let peak = kilobytes("VmHWM"), let anonymous = kilobytes("RssAnon"), let file = kilobytes("RssFile") else { return nil }
        return ProcessMemory(peakResidentBytes: peak, anonymousBytes: anonymous, fileBytes: file)
    }

    public var summary: String {
        String(format: "peak RSS %.2f GB (now: %.2f GB anonymous, %.2f GB mapped file pages)",
               Double(peakResidentBytes) / 1e9, Double(anonymousBytes) / 1e9, Double(fileBytes) / 1e9)
    }
}

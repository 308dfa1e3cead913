import Foundation
import TestHelpers
@testable import MoEKit

/// Shared helpers: temporary directories, fixture paths, tolerant comparisons.
enum TestSupport {
    static func temporaryDirectory(_ label: String = #function) -> String {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let path = ScratchSpace.directory + "moepp-tests-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Committed fixtures (Tests/MoEKitTests/Fixtures), found beside this source file so that
    /// tests read them in place.
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    /// A seeded random checkpoint of `family`, written once per call.
    static func randomCheckpoint(_ family: ModelFamily, seed: UInt64 = 1, dtype: WeightFormat = .f32,
                                 configure: (inout ModelConfig) -> Void = { _ in }) -> String {
        let directory = temporaryDirectory("\(family.rawValue)\(seed)\(dtype.rawValue)")
        var config = RandomCheckpoint.tinyConfig(family)
        configure(&config)
        try! RandomCheckpoint.write(config: config, to: directory, seed: seed, dtype: dtype)
        return directory
    }

    static func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count)")
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// |a − b| ≤ tolerance · max(1, max|b|) everywhere.
    static func close(_ a: [Float], _ b: [Float], relative tolerance: Float) -> Bool {
        let scale = max(1, b.map(abs).max() ?? 0)
        return maxAbsoluteDifference(a, b) <= tolerance * scale
    }

    /// Path of the built `moepp` executable (beside the test bundle).
    static var executable: String {
        let candidates = [Bundle.main.bundleURL, Bundle(for: Marker.self).bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("moepp").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    final class Marker {}

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let result = try ChildProcess.run([executable] + arguments, environment: environment)
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}

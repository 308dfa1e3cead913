// swift-tools-version:6.0
import PackageDescription

// Release builds are what people run and what `make bench` measures. They keep Swift's safety
// checks (-O, not -Ounchecked): with -Ounchecked a precondition a user's file could reach became
// undefined behaviour (a calibration computed from out-of-slot reads, exit 0). The kernels' hot
// loops work on unsafe pointers, so the checks cost nothing measurable there (BENCHMARKS.md).
// On x86-64 the SIMD16 kernels are compiled for AVX2 + FMA + F16C (haswell, 2013 on); the
// default x86-64 target would split every 16-lane operation into four SSE ones.
#if arch(x86_64)
let releaseFlags = ["-O", "-wmo", "-target-cpu", "haswell"]
// The quantised kernels' AVX2 bodies (vpmaddubsw/vpmaddwd, F16C scales); elsewhere their scalar
// bodies compile. Every build, not only release: the tests hold the AVX2 code to its twins.
let quantKernelFlags: [CSetting] = [.unsafeFlags(["-mavx2", "-mfma", "-mf16c"])]
#else
let releaseFlags = ["-O", "-wmo"]
let quantKernelFlags: [CSetting] = []
#endif
let speed: [SwiftSetting] = [
    .unsafeFlags(releaseFlags, .when(configuration: .release)),
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "moepp",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "MoEKit", targets: ["MoEKit"]),
        .executable(name: "moepp", targets: ["moepp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw"),
        .target(name: "CQuantKernels", cSettings: quantKernelFlags),
        .target(name: "MoEKit", dependencies: ["COpenBLAS", "CQuantKernels"], swiftSettings: speed),
        .target(name: "CTerminalRestore"),
        .target(name: "MoETUI", dependencies: ["MoEKit", "CNcursesw", "CTerminalRestore"], swiftSettings: speed),
        .executableTarget(
            name: "moepp",
            dependencies: ["MoEKit", "MoETUI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: speed),
        // Test helpers: programs run with posix_spawn + waitpid (see ChildProcess for why), and a
        // scratch directory removed at exit.
        .target(name: "TestHelpers", path: "Tests/TestHelpers"),
        .testTarget(name: "MoETUITests", dependencies: ["MoETUI", "MoEKit", "TestHelpers"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MoEKitTests", dependencies: ["MoEKit", "TestHelpers"],
                    exclude: ["Fixtures"], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)

// swift-tools-version:6.0
import PackageDescription

/// Release builds are compiled for the host CPU. Without `-target-cpu native`
/// the Swift SIMD kernels fall back to baseline x86-64 code that is two orders
/// of magnitude slower (see README, "Build flags"), so a plain
/// `swift build -c release` must already carry these flags.
///
/// Every module keeps Swift's bounds and overflow checks (`-O`): the parsers
/// of user files (descriptors, plans, CSV, JSON, safetensors, .npy, HDF5) and
/// the CLI live there, and a malformed file must be an error, not a wrap-around.
let hostTuned: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", "native"], .when(configuration: .release)),
  .define("RESNET_BENCH_HOST_TUNED", .when(configuration: .release)),
]

/// The kernels alone are compiled without those checks (`-Ounchecked`): their
/// inner loops index by values the module computed itself from validated
/// shapes, and a check per load costs measurable time there.
let kernelTuned: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release)),
  .define("RESNET_BENCH_HOST_TUNED", .when(configuration: .release)),
]

let package = Package(
  name: "resnet-bench",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "resnet-bench", targets: ["resnet-bench"]),
    .library(name: "ResNetBench", targets: ["ConvCore", "ConvBackends", "ResNet", "Measurement", "Tuning", "Harness"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // MARK: - Kernels and the convolution model

    /// ConvProblem, descriptors, the backend protocol, the Float64 reference,
    /// tolerances, aligned storage and the thread pool.
    .target(name: "ConvCore", dependencies: ["_CacheShims"], swiftSettings: hostTuned),
    /// Every convolution backend, the shared kernels (Kernels/: the register-tile
    /// table, the outer-product microkernel, the packed GEMM) and the one
    /// registry that lists the backends. The only module built unchecked.
    .target(name: "ConvBackends", dependencies: ["ConvCore", "_LoaderShims", "_CacheShims"], swiftSettings: kernelTuned),

    // MARK: - Implementation details

    /// `dladdr` for the BLAS provenance check; not an API (see its README).
    .target(name: "_LoaderShims", exclude: ["README.md"]),
    /// Prefetch, cache-line flush and fence, inlined into Swift; not an API (see its README).
    .target(name: "_CacheShims", exclude: ["README.md"]),
    /// The signal handler that removes an interrupted atomic write's temporary; not an API.
    .target(name: "_SignalShims", exclude: ["README.md"]),

    // MARK: - Networks, measurement, reports

    /// ResNet architectures (torchvision's family and Keras's layout), weights
    /// (seeded, safetensors, Keras HDF5, BatchNorm folding), inference.
    .target(name: "ResNet", dependencies: ["ConvCore", "ConvBackends", "_SignalShims"], swiftSettings: hostTuned),
    /// The measurement core: the stopwatch, the interleaved sampler, the
    /// statistics and ratio intervals, machine load, the FMA peak, the layer trial.
    .target(name: "Measurement", dependencies: ["ConvCore"], swiftSettings: hostTuned),
    /// Machine fingerprint, the autotuner and its plan (plan.json).
    .target(name: "Tuning", dependencies: ["ConvCore", "ConvBackends", "ResNet", "Measurement"], swiftSettings: hostTuned),
    /// The work behind each command (run, conv, compare, soak), agreement
    /// checks, CSV and JSON results, the HTML report, benchdnn batch files.
    .target(name: "Harness", dependencies: ["ConvCore", "ConvBackends", "ResNet", "Measurement", "Tuning"], swiftSettings: hostTuned),

    // MARK: - Command-line tool

    .executableTarget(
      name: "resnet-bench",
      dependencies: [
        "ConvCore", "ConvBackends", "ResNet", "Measurement", "Tuning", "Harness",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: hostTuned),

    // MARK: - Tests

    /// Deliberately broken backends the checks must reject; for tests only.
    .target(name: "TestSupport", dependencies: ["ConvCore", "ConvBackends"], path: "Tests/TestSupport", swiftSettings: hostTuned),
    /// Counts heap allocations in the test executable (see its README); for tests only.
    .target(name: "_AllocationCounter", path: "Tests/_AllocationCounter", exclude: ["README.md"]),

    .testTarget(name: "ConvCoreTests", dependencies: ["ConvCore"], swiftSettings: hostTuned),
    .testTarget(name: "ConvBackendsTests", dependencies: ["ConvCore", "ConvBackends", "Measurement", "TestSupport"], swiftSettings: hostTuned),
    .testTarget(name: "ResNetTests", dependencies: ["ConvCore", "ConvBackends", "ResNet"], swiftSettings: hostTuned),
    .testTarget(name: "MeasurementTests", dependencies: ["ConvCore", "Measurement"], swiftSettings: hostTuned),
    .testTarget(name: "TuningTests", dependencies: ["ConvCore", "ConvBackends", "ResNet", "Measurement", "Tuning", "TestSupport"], swiftSettings: hostTuned),
    .testTarget(name: "HarnessTests", dependencies: ["ConvCore", "ConvBackends", "ResNet", "Measurement", "Tuning", "Harness", "TestSupport", "_AllocationCounter"], swiftSettings: hostTuned),
  ],
  swiftLanguageModes: [.v5]
)

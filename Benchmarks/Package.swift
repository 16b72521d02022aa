// swift-tools-version: 6.1
import PackageDescription

import struct Foundation.URL

/// SwiftPM names a path dependency after its folder, which is wherever the
/// repository was cloned; derive it rather than assume it.
let mainPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

// package-benchmark suites for resnet-bench, kept in their own package so the
// main package carries no benchmark-only dependencies.
//
//   cd Benchmarks
//   swift package benchmark                       # run every suite
//   swift package benchmark thresholds check      # compare with Thresholds/ (CI)
//   swift package --allow-writing-to-package-directory benchmark thresholds update
let package = Package(
  name: "resnet-bench-benchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(path: "../"),
    // Only the malloc interposer trait: the runtime interposer needs a package this machine kind does not mirror.
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "LayerBenchmarks",
      dependencies: [
        .product(name: "Benchmark", package: "benchmark"),
        .product(name: "ResNetBench", package: mainPackage),
      ],
      path: "Benchmarks/LayerBenchmarks",
      swiftSettings: [.unsafeFlags(["-target-cpu", "native"])],
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
  ]
)

// swift-tools-version:6.0
import PackageDescription

import struct Foundation.URL

/// SwiftPM names a path dependency after its folder, which is wherever the
/// repository was cloned; derive it rather than assume it.
let mainPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

/// libFuzzer targets, one per parser of user input. Kept out of the main
/// package because each target has no `main`: libFuzzer supplies it, so they
/// only link when built with `--sanitize=fuzzer`. `scripts/fuzz.sh` builds and
/// runs them; see README.md in this folder.
let fuzzTargets: [(name: String, module: String)] = [
  ("FuzzDescriptor", "ConvCore"),
  ("FuzzCSV", "Harness"),
  ("FuzzSafetensors", "ResNet"),
  ("FuzzNpy", "ResNet"),
  ("FuzzPlan", "Tuning"),
  ("FuzzResults", "Harness"),
  ("FuzzBatch", "Harness"),
]

let package = Package(
  name: "resnet-bench-fuzz",
  platforms: [.macOS(.v15)],
  products: fuzzTargets.map { .executable(name: $0.name, targets: [$0.name]) },
  dependencies: [.package(path: "../")],
  targets: fuzzTargets.map {
    .executableTarget(
      name: $0.name,
      dependencies: [.product(name: "ResNetBench", package: mainPackage)],
      swiftSettings: [.unsafeFlags(["-parse-as-library"])])
  },
  swiftLanguageModes: [.v5]
)

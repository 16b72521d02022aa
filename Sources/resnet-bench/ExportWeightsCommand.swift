import ArgumentParser
import Foundation
import ResNet

struct ExportWeightsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-weights",
    abstract: "Write a model's seeded weights as safetensors with torchvision's state_dict keys (OIHW).",
    discussion: """
      BatchNorm is stored unfolded (weight, bias, running_mean, running_var), as
      torchvision does, so the file loads in PyTorch with load_state_dict and
      other runtimes can be fed the same network.

      Example: resnet-bench export-weights --model resnet50 --seed 0 resnet50.safetensors
      """)

  @OptionGroup var model: ModelOptions

  @Option(help: "Seed of the deterministic initialisation.")
  var seed: UInt64 = 0

  @Argument(help: "Output file (.safetensors).")
  var output: String

  func run() throws {
    let net = try model.build()
    let dict = ResNetWeights.seeded(for: net, seed: seed)
    try Safetensors.write(dict, to: URL(fileURLWithPath: output), metadata: [
      "model": net.name, "variant": net.variant.rawValue, "classes": "\(net.classes)", "seed": "\(seed)",
      "format": "pt", "generator": "resnet-bench export-weights",
    ])
    note("wrote \(dict.count) tensors, \(net.parameterCount) parameters, to \(output)")
  }
}

import ArgumentParser
import Foundation
import Harness
import ResNet

struct ExportWeightsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-weights",
    abstract: "Write a model's seeded weights: safetensors with torchvision's state_dict keys (OIHW), or Keras's layout (.h5 or safetensors, HWIO) for the keras variants.",
    discussion: """
      BatchNorm is stored unfolded (weight, bias, running_mean, running_var), as
      torchvision does, so the file loads in PyTorch with load_state_dict and
      other runtimes can be fed the same network.

      The keras variants write Keras's layer names and HWIO kernels: a .h5
      file in the keras.applications layout (root attribute layer_names, one
      group per layer with weight_names, `kernel:0` … datasets), loadable by
      Keras's `load_weights`; or safetensors keyed `<layer>/<weight>`.

      Examples:
        resnet-bench export-weights --model resnet50 --seed 0 resnet50.safetensors
        resnet-bench export-weights --model resnet50 --variant keras resnet50-keras.h5
      """)

  @OptionGroup var model: ModelOptions

  @Option(help: "Seed of the deterministic initialisation.")
  var seed: UInt64 = 0

  @Argument(help: "Output file: .safetensors, or .h5 (Keras's HDF5 layout, keras variants).")
  var output: String

  func run() throws {
    let net = try model.build()
    try MemoryBudget.checkExport(net)
    let dict = ResNetWeights.seeded(for: net, seed: seed)
    let url = URL(fileURLWithPath: output)
    if output.lowercased().hasSuffix(".h5") {
      guard net.variant.isKeras else {
        throw InputError("\(output): the .h5 layout is Keras's; use --variant keras or keras-same (or write .safetensors)")
      }
      if let why = KerasWeightsFile.unavailableReason { throw InputError("\(output): cannot write HDF5: \(why)") }
      try KerasWeightsFile(stateDict: dict, model: net).write(to: url)
    } else {
      try Safetensors.write(dict, to: url, metadata: [
        "model": net.name, "variant": net.variant.rawValue, "classes": "\(net.classes)", "seed": "\(seed)",
        "format": net.variant.isKeras ? "keras" : "pt", "generator": "resnet-bench export-weights",
      ])
    }
    note("wrote \(dict.count) tensors, \(net.parameterCount) parameters, to \(output)")
  }
}

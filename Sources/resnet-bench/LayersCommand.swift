import ArgumentParser
import Harness
import ResNet

struct LayersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "layers",
    abstract: "List every convolution of a ResNet (and fc) with its benchdnn descriptor and MACs, and the totals.",
    discussion: """
      Layer names are torchvision's module names. fc is computed as a 1×1
      convolution over a 1×1 image and listed as such. Totals count parameters
      as torchvision does (weights, biases, BatchNorm scale and shift).

      Example: resnet-bench layers --model resnet50 --variant v1.5
      """)

  @OptionGroup var model: ModelOptions

  @Flag(help: "List only the distinct shapes, with the layers that share each.")
  var distinct = false

  func run() throws {
    let net = try model.build()
    if distinct {
      var table = TextTable([.init("#", .right), .init("descriptor", .left), .init("MMAC", .right), .init("layers", .left)])
      for (i, shape) in net.distinctShapes.enumerated() {
        table.add(["\(i + 1)", shape.problem.descriptor, fixed(Double(shape.problem.macs) / 1e6, 1), shape.layers.joined(separator: " ")])
      }
      print(table.render(), terminator: "")
    } else {
      var table = TextTable([.init("layer", .left), .init("descriptor", .left), .init("MMAC", .right)])
      for layer in net.layers {
        table.add([layer.name, layer.problem.descriptor, fixed(Double(layer.problem.macs) / 1e6, 1)])
      }
      print(table.render(), terminator: "")
    }
    print("\(net.name) \(net.variant.rawValue), batch \(net.batch), \(net.inputSize)x\(net.inputSize), \(net.classes) classes: "
          + "\(net.layers.count) layers, \(net.distinctShapes.count) distinct shapes, "
          + "\(net.parameterCount) parameters, \(fixed(Double(net.macs) / 1e9, 3)) GMAC")
  }
}

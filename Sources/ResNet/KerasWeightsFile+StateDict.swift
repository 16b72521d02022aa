import Foundation

extension KerasWeightsFile {
  /// True when the file carries the HDF5 signature (read without libhdf5).
  public static func looksLikeHDF5(_ url: URL) -> Bool { (try? hdf5FileSize(url)) != nil }

  /// The weights keyed as `ResNetWeights` expects Keras's: `<layer>/<weight>`,
  /// the weight's own name being the last component of its `weight_names`
  /// entry without Keras 2's `:0` (`conv1_conv/kernel:0` → `conv1_conv/kernel`).
  public func stateDict() throws -> StateDict {
    var dict = StateDict()
    for layer in layers {
      for weight in layer.weights {
        var short = weight.name.split(separator: "/").last.map(String.init) ?? weight.name
        if let colon = short.lastIndex(of: ":"), short[short.index(after: colon)...].allSatisfy(\.isNumber) {
          short = String(short[..<colon])
        }
        let key = "\(layer.name)/\(short)"
        guard dict[key] == nil else { throw WeightsFileError("layer '\(layer.name)' has two weights named '\(short)'") }
        guard tensorSize(shape: weight.shape, elementSize: 4)?.count == weight.values.count else {
          throw WeightsFileError("layer '\(layer.name)' weight '\(weight.name)' has shape \(weight.shape) but \(weight.values.count) values")
        }
        dict[key] = NamedTensor(shape: weight.shape, values: weight.values)
      }
    }
    return dict
  }

  /// The keras.applications layout of `dict` (keys `<layer>/<weight>`) for
  /// `model`'s layers in order, each weight named as Keras 2 names it
  /// (`conv1_conv/kernel:0`): what `export-weights --format h5` writes.
  public init(stateDict dict: StateDict, model: ResNetModel) throws {
    var layers: [Layer] = []
    for layer in model.layers {
      var groups: [(String, [String])] = [(layer.name, ["kernel", "bias"])]
      if let bn = layer.batchNormName { groups.append((bn, ["gamma", "beta", "moving_mean", "moving_variance"])) }
      for (name, fields) in groups {
        layers.append(Layer(name: name, weights: try fields.map { field in
          guard let t = dict["\(name)/\(field)"] else { throw WeightsFileError("no tensor '\(name)/\(field)' to write") }
          return Weight(name: "\(name)/\(field):0", shape: t.shape, values: t.values)
        }))
      }
    }
    self.init(layers: layers)
  }
}

import ConvCore

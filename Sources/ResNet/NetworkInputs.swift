import ConvCore
import Foundation

/// Weights and input for a network run: seeded, or read from files.
public struct NetworkInputs: Sendable {
  public var weights: [ConvWeights]
  /// NHWC [batch, size, size, 3].
  public var image: [Float]
  /// Where the weights came from, for reports ("seed 0" or a path).
  public var weightsSource: String

  /// - Parameters:
  ///   - weightsFile: a safetensors file in the model's layout (torchvision's
  ///     keys, or Keras's `<layer>/<weight>` names for the keras variants), a
  ///     Keras HDF5 file (`.h5`, keras variants), or nil for seeded weights.
  ///   - inputFile: a float32 NHWC .npy of shape [batch, size, size, 3], or nil for a seeded image.
  ///   - seed: seeds the weights (when no file) and the image (when no file; drawn from a separate stream).
  public static func load(for model: ResNetModel, weightsFile: String?, inputFile: String?, seed: UInt64) throws -> NetworkInputs {
    let weights: [ConvWeights]
    let source: String
    if let weightsFile {
      let (tensors, otherDtypes) = try readWeights(weightsFile, for: model)
      do { weights = try ResNetWeights.fold(tensors, for: model, otherDtypes: otherDtypes) } catch let e as ModelError {
        throw ModelError("\(weightsFile): \(e.message)")
      }
      source = weightsFile
    } else {
      weights = try ResNetWeights.fold(ResNetWeights.seeded(for: model, seed: seed), for: model)
      source = "seed \(seed)"
    }
    let count = model.batch * model.inputSize * model.inputSize * ResNetModel.inputChannels
    let image: [Float]
    if let inputFile {
      image = try self.image(NpyFile.read(contentsOf: URL(fileURLWithPath: inputFile)), for: model, source: inputFile)
    } else {
      image = seededImage(count: count, seed: seed)
    }
    return NetworkInputs(weights: weights, image: image, weightsSource: source)
  }

  /// The image in `array`, which must be NHWC [batch, size, size, 3] for `model`.
  public static func image(_ array: NpyFile.Array, for model: ResNetModel, source: String) throws -> [Float] {
    let expected = [model.batch, model.inputSize, model.inputSize, ResNetModel.inputChannels]
    guard array.shape == expected else {
      throw ModelError("\(source): input has shape \(array.shape), expected NHWC \(expected)")
    }
    if let i = array.values.firstIndex(where: { !$0.isFinite }) {
      throw ModelError("\(source): input value \(i) is \(array.values[i]); an image must be finite")
    }
    return array.values
  }

  /// The tensors of a weights file: a Keras HDF5 file when it is named so
  /// (`.h5`, `.hdf5`) or carries the HDF5 signature, safetensors otherwise.
  static func readWeights(_ path: String, for model: ResNetModel) throws -> (StateDict, [String: String]) {
    let url = URL(fileURLWithPath: path)
    if ["h5", "hdf5"].contains(url.pathExtension.lowercased()) || KerasWeightsFile.looksLikeHDF5(url) {
      guard model.variant.isKeras else {
        throw ModelError("\(path): a Keras HDF5 weights file; it needs a keras variant (--variant keras or keras-same), this run is \(model.variant.rawValue)")
      }
      return (try KerasWeightsFile.read(contentsOf: url).stateDict(), [:])
    }
    let contents = try Safetensors.read(contentsOf: url)
    return (contents.tensors, contents.nonFloat)
  }

  /// A standard-normal image (the statistics of a normalised photograph) from
  /// a stream separate from the weights'.
  public static func seededImage(count: Int, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: ~seed)
    return rng.normals(count)
  }
}

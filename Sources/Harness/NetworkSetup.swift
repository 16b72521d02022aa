import ConvCore
import Foundation
import ResNet

/// Weights and input for a network run: seeded, or read from files.
public struct NetworkInputs: Sendable {
  public var weights: [ConvWeights]
  /// NHWC [batch, size, size, 3].
  public var image: [Float]
  /// Where the weights came from, for reports ("seed 0" or a path).
  public var weightsSource: String

  /// - Parameters:
  ///   - weightsFile: a safetensors file with torchvision keys, or nil for seeded weights.
  ///   - inputFile: a float32 NHWC .npy of shape [batch, size, size, 3], or nil for a seeded image.
  ///   - seed: seeds the weights (when no file) and the image (when no file; drawn from a separate stream).
  public static func load(for model: ResNetModel, weightsFile: String?, inputFile: String?, seed: UInt64) throws -> NetworkInputs {
    let weights: [ConvWeights]
    let source: String
    if let weightsFile {
      let contents = try Safetensors.read(contentsOf: URL(fileURLWithPath: weightsFile))
      do { weights = try ResNetWeights.fold(contents.tensors, for: model, otherDtypes: contents.nonFloat) } catch let e as ModelError {
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
      let array = try NpyFile.read(contentsOf: URL(fileURLWithPath: inputFile))
      let expected = [model.batch, model.inputSize, model.inputSize, ResNetModel.inputChannels]
      guard array.shape == expected else {
        throw ModelError("\(inputFile): input has shape \(array.shape), expected NHWC \(expected)")
      }
      image = array.values
    } else {
      image = seededImage(count: count, seed: seed)
    }
    return NetworkInputs(weights: weights, image: image, weightsSource: source)
  }

  /// A standard-normal image (the statistics of a normalised photograph) from
  /// a stream separate from the weights'.
  public static func seededImage(count: Int, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: ~seed)
    return rng.normals(count)
  }
}

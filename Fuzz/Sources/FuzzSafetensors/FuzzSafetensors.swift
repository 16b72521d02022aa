import Foundation
import ResNet

/// libFuzzer entry point, weights as `run --weights` reads them: any bytes
/// must decode as a safetensors file or throw WeightsFileError. A decoded
/// file, encoded again, must decode to the same Float32 tensors bit for bit
/// (NaN payloads included); then its tensors go through the model check and
/// BatchNorm folding for ResNet-18, which must fold or throw ModelError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let contents = try? Safetensors.decode(bytes) else { return 0 }
  guard let again = try? Safetensors.decode(Safetensors.encode(contents.tensors)) else {
    fatalError("safetensors: re-encoded file does not decode")
  }
  guard again.tensors.keys.sorted() == contents.tensors.keys.sorted(), again.nonFloat.isEmpty else {
    fatalError("safetensors: re-encoded file holds other tensors")
  }
  for (name, tensor) in contents.tensors {
    guard let other = again.tensors[name], other.shape == tensor.shape,
          other.values.map(\.bitPattern) == tensor.values.map(\.bitPattern) else {
      fatalError("safetensors: tensor '\(name)' changed in the round trip")
    }
  }
  do {
    _ = try ResNetWeights.fold(contents.tensors, for: FuzzModels.resnet18, otherDtypes: contents.nonFloat)
  } catch let e as ModelError {
    if e.message.contains("\n") { fatalError("a weights error of more than one line: \(e.message)") }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}

enum FuzzModels {
  static let resnet18 = try! ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
}

import Foundation
import ResNet

/// libFuzzer entry point, an input as `run --input` reads it: any bytes must
/// decode as a .npy array or throw WeightsFileError. A decoded array,
/// encoded again, must decode to the same shape and bits; then it goes
/// through the input-shape check for ResNet-18 at 32×32, batch 1 (shape
/// [1, 32, 32, 3]), which must accept it or throw ModelError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let array = try? NpyFile.decode(bytes) else { return 0 }
  guard let again = try? NpyFile.decode(NpyFile.encode(array)) else {
    fatalError(".npy: re-encoded array of shape \(array.shape) does not decode")
  }
  guard again.shape == array.shape, again.values.map(\.bitPattern) == array.values.map(\.bitPattern) else {
    fatalError(".npy: array of shape \(array.shape) changed in the round trip")
  }
  do { _ = try NetworkInputs.image(array, for: model, source: "fuzz.npy") } catch let e as ModelError {
    if e.message.contains("\n") { fatalError("an input error of more than one line: \(e.message)") }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}

private let model = try! ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)

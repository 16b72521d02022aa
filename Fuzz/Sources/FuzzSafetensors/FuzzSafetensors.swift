import Foundation
import ResNet

/// libFuzzer entry point: any bytes must decode as a safetensors file or throw
/// WeightsFileError. A decoded file, encoded again, must decode to the same
/// Float32 tensors bit for bit (NaN payloads included). A trap is a finding.
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
    let other = again.tensors[name]!
    guard other.shape == tensor.shape, other.values.map(\.bitPattern) == tensor.values.map(\.bitPattern) else {
      fatalError("safetensors: tensor '\(name)' changed in the round trip")
    }
  }
  return 0
}

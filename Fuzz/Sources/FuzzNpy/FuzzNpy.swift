import Foundation
import ResNet

/// libFuzzer entry point: any bytes must decode as a .npy array or throw
/// WeightsFileError. A decoded array, encoded again, must decode to the same
/// shape and the same bits. A trap is a finding.
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
  return 0
}

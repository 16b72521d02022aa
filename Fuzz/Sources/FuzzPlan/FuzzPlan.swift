import Foundation
import ResNet
import Tuning

/// libFuzzer entry point, a plan as `run --plan` reads it: any bytes must
/// decode as a plan or throw PlanError. A decoded plan must encode, decode
/// again, and encode to the same bytes (keys are sorted, so the encoding is
/// canonical); then its compatibility with ResNet-18 at 32×32 on this
/// machine and its per-layer assignment are resolved, which must give an
/// answer or throw PlanError. A trap is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlan(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let plan = try? Plan.decode(bytes) else { return 0 }
  guard let first = try? plan.encoded() else { fatalError("plan: a decoded plan does not encode") }
  guard let again = try? Plan.decode(first) else { fatalError("plan: a re-encoded plan does not decode") }
  guard let second = try? again.encoded(), second == first else { fatalError("plan: the round trip changed the plan") }
  _ = plan.compatibility(with: model, fingerprint: fingerprint)
  do { _ = try plan.assignment(for: model) } catch let e as PlanError {
    if e.message.contains("\n") { fatalError("a plan error of more than one line: \(e.message)") }
  } catch {
    fatalError("unexpected error type \(type(of: error)): \(error)")
  }
  return 0
}

private let model = try! ResNetModel(depth: .resnet18, inputSize: 32, classes: 4)
private let fingerprint = MachineFingerprint.current(threads: 1)

import Foundation
import Tuning

/// libFuzzer entry point: any bytes must decode as a plan or throw PlanError.
/// A decoded plan must encode, decode again, and encode to the same bytes
/// (keys are sorted, so the encoding is canonical). A trap is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlan(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let plan = try? Plan.decode(bytes) else { return 0 }
  guard let first = try? plan.encoded() else { fatalError("plan: a decoded plan does not encode") }
  guard let again = try? Plan.decode(first) else { fatalError("plan: a re-encoded plan does not decode") }
  guard let second = try? again.encoded(), second == first else { fatalError("plan: the round trip changed the plan") }
  return 0
}

/// How far a result may be from the Float64 reference.
///
/// The error of one output element is measured relative to its reference
/// value, with a floor so that elements whose reference is close to zero (where
/// cancellation makes any relative measure meaningless) are measured against the
/// tensor's scale instead:
///
///     error = maxᵢ |yᵢ − rᵢ| / max(|rᵢ|, floorFraction · maxⱼ |rⱼ|)
///
/// Float32 summation error grows with the reduction length K = C·R·S; for
/// random-signed terms it grows like √K·ε (Higham, "Accuracy and Stability of
/// Numerical Algorithms", §4.2), so the tolerance of direct methods is a
/// multiple of that. Winograd's transforms amplify rounding error by the
/// magnitude of their matrices, so it gets its own, looser, bound.
public enum ErrorMetric {
  /// Elements whose reference magnitude is below this fraction of the largest
  /// one are measured against that floor.
  public static let floorFraction = 1e-2

  /// The error defined above; `values` and `reference` have the same count.
  public static func maxError(_ values: UnsafeBufferPointer<Float>, reference: UnsafeBufferPointer<Float>) -> Double {
    precondition(values.count == reference.count, "result and reference differ in size")
    var largest = 0.0
    for r in reference { largest = max(largest, Double(abs(r))) }
    let floor = max(floorFraction * largest, Double(Float.leastNormalMagnitude))
    var worst = 0.0
    for i in 0..<values.count {
      let y = Double(values[i]), r = Double(reference[i])
      if !y.isFinite { return .infinity }
      worst = max(worst, abs(y - r) / max(abs(r), floor))
    }
    return worst
  }

  public static func maxError(_ values: [Float], reference: [Float]) -> Double {
    values.withUnsafeBufferPointer { v in reference.withUnsafeBufferPointer { r in maxError(v, reference: r) } }
  }
}

public enum Tolerance {
  /// Float32 machine epsilon (2⁻²³).
  public static let epsilon = Double(Float.ulpOfOne)

  /// Direct methods (naive, im2col + GEMM, tiled SIMD): 64·ε·√K, at least 128·ε.
  /// For ResNet-50's longest reduction (K = 4608) that is 5.2e-4. The naive
  /// backend, which sums serially (the worst case), measures about a fifth of it.
  public static func direct(reductionLength k: Int) -> Double {
    max(128 * epsilon, 64 * epsilon * Double(max(k, 1)).squareRoot())
  }

  /// Winograd F(m×m, 3×3), m ∈ {2, 4}: 1e-3 (see README, "Accuracy").
  public static let winograd = 1e-3

  /// A whole network's logits against the Float64-reference network: errors
  /// of ~50 layers compound, so the bound is per-network, not per-layer.
  public static let networkDirect = 1e-3
  public static let networkWinograd = 1e-2
}

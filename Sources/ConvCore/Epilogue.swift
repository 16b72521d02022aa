/// The fused output stage shared by backends that finish one contiguous run
/// of output channels at a time: `y = act(acc + bias + residual)`.
///
/// Backends whose kernels hold accumulators in registers apply the same
/// formula in their store instead; this is for backends that produce `acc`
/// in memory (GEMM-based, naive).
@inline(__always)
public func applyEpilogue(
  _ row: UnsafeMutablePointer<Float>, count: Int, bias: UnsafePointer<Float>?,
  residual: UnsafePointer<Float>?, relu: Bool
) {
  switch (bias, residual, relu) {
  case let (b?, r?, true): for i in 0..<count { row[i] = max(row[i] + b[i] + r[i], 0) }
  case let (b?, r?, false): for i in 0..<count { row[i] = row[i] + b[i] + r[i] }
  case let (b?, nil, true): for i in 0..<count { row[i] = max(row[i] + b[i], 0) }
  case let (b?, nil, false): for i in 0..<count { row[i] += b[i] }
  case let (nil, r?, true): for i in 0..<count { row[i] = max(row[i] + r[i], 0) }
  case let (nil, r?, false): for i in 0..<count { row[i] += r[i] }
  case (nil, nil, true): for i in 0..<count { row[i] = max(row[i], 0) }
  case (nil, nil, false): break
  }
}

/// The fused epilogue of the output transform: `y = act(acc + bias + residual)`
/// for one output tile, stored into the NHWC output (the residual shares the
/// output's layout).
struct WinogradOutputStage {
  let output: UnsafeMutablePointer<Float>
  let residual: UnsafePointer<Float>?
  let relu: Bool
  /// Output channels per pixel (the NHWC pixel stride, in floats).
  let channels: Int
  /// Output pixels per row.
  let width: Int

  /// Stores `rows × columns` pixels of sixteen (or `lanes` < 16) channels.
  /// - Parameters:
  ///   - tile: the transformed tile, pixel (r, s) at `tile + (r · side + s) · 16`.
  ///   - side: m, the tile's row length in pixels.
  ///   - offset: float offset in the output of pixel (0, 0), channel 0 of the run.
  ///   - bias: sixteen bias values (zero past `lanes`).
  @inline(never)
  func store(_ tile: UnsafePointer<Float>, side: Int, rows: Int, columns: Int, lanes: Int,
             offset: Int, bias: WinogradVector) {
    for r in 0..<rows {
      for s in 0..<columns {
        let at = offset + (r * width + s) * channels
        var y = VectorMemory.load(tile + (r * side + s) * WinogradVector.scalarCount) + bias
        if lanes == WinogradVector.scalarCount {
          if let residual { y += VectorMemory.load(residual + at) }
          if relu { y.replace(with: 0, where: y .< 0) }
          VectorMemory.store(y, output + at)
        } else {
          if let residual { y += VectorMemory.load(residual + at, count: lanes) }
          if relu { y.replace(with: 0, where: y .< 0) }
          VectorMemory.store(y, output + at, count: lanes)
        }
      }
    }
  }
}

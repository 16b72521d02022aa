import ConvCore

/// How a stride-1 3×3 convolution's output is cut into m×m Winograd tiles and
/// how the transformed data of a block of tiles is laid out in memory.
///
/// Tiles are numbered image by image, row by row: tile `t` covers output rows
/// `m·ty ..< m·ty + m` and columns `m·tx ..< m·tx + m` of image `n`, where
/// `t = (n · tilesDown + ty) · tilesAcross + tx`. Tiles at the right and bottom
/// edges may reach past the output; those pixels are computed and dropped.
///
/// A block of up to `blockTiles` consecutive tiles is transformed into α² planes
/// (one per transformed element ξ = row · α + col), each a row-major matrix
/// [tile][channel] of `Float`s:
///
/// - transformed input V: plane ξ at `ξ · inputPlaneStride`, row stride `inputRowStride`;
/// - products M: plane ξ at `ξ · productPlaneStride`, row stride `productRowStride`.
struct WinogradTiling {
  /// Channels are padded to whole SIMD vectors so every row starts 64-byte aligned
  /// and every vector load and store is a full one.
  static let vectorWidth = WinogradVector.scalarCount
  /// Extra floats (one cache line) after each plane: planes whose size is a
  /// multiple of 4 KiB would otherwise map the α² values a transform touches for
  /// one tile onto the same L1 sets.
  static let planePadding = 16

  /// m, output pixels per tile side.
  let outputTile: Int
  /// α = m + 2, input pixels per tile side.
  let inputTile: Int
  let tilesDown: Int
  let tilesAcross: Int
  /// Tiles of all images.
  let tileCount: Int
  /// Tiles per block (the last block may have fewer).
  let blockTiles: Int
  let blockCount: Int
  /// `inChannels` rounded up to whole vectors.
  let inputRowStride: Int
  /// `outChannels` rounded up to whole vectors.
  let productRowStride: Int
  let inputPlaneStride: Int
  let productPlaneStride: Int

  init(problem p: ConvProblem, outputTile m: Int, blockTiles: Int) {
    outputTile = m
    inputTile = m + 2
    tilesDown = (p.outHeight + m - 1) / m
    tilesAcross = (p.outWidth + m - 1) / m
    tileCount = p.batch * tilesDown * tilesAcross
    self.blockTiles = min(blockTiles, tileCount)
    blockCount = (tileCount + self.blockTiles - 1) / self.blockTiles
    inputRowStride = Self.roundUpToVector(p.inChannels)
    productRowStride = Self.roundUpToVector(p.outChannels)
    inputPlaneStride = self.blockTiles * inputRowStride + Self.planePadding
    productPlaneStride = self.blockTiles * productRowStride + Self.planePadding
  }

  /// α², the number of transformed elements (and of matrix products) per tile.
  var elementCount: Int { inputTile * inputTile }
  /// Floats of one block's transformed input (all α² planes).
  var inputBlockFloats: Int { elementCount * inputPlaneStride }
  /// Floats of one block's products (all α² planes).
  var productBlockFloats: Int { elementCount * productPlaneStride }

  /// The tiles of block `b`.
  func tiles(ofBlock b: Int) -> Range<Int> { b * blockTiles ..< min(tileCount, (b + 1) * blockTiles) }

  /// Image, first output row and first output column of tile `t`.
  @inline(__always)
  func origin(ofTile t: Int) -> (image: Int, row: Int, column: Int) {
    let perImage = tilesDown * tilesAcross
    let n = t / perImage, inImage = t - n * perImage
    let ty = inImage / tilesAcross, tx = inImage - ty * tilesAcross
    return (n, ty * outputTile, tx * outputTile)
  }

  static func roundUpToVector(_ n: Int) -> Int { (n + vectorWidth - 1) / vectorWidth * vectorWidth }
}

import ConvCore
import Synchronization

/// Convolution lowered to one matrix product per group and block of output
/// pixels: C_g[M × OC/g] = A_g[M × K] · B_g[K × OC/g] with M = N·OH·OW output
/// pixels, K = KH·KW·C/g.
///
/// In NHWC the output is C itself (row = pixel, column = output channel;
/// group g's columns are a contiguous slice, so C_g is C with an offset and
/// the full row stride) and a row of A_g is the receptive field of one pixel
/// in group g's channels, gathered by im2col as KH·KW runs of C/g channels
/// (one run per kernel row when the layer is neither grouped nor dilated). A
/// 1×1, stride-1, unpadded layer needs no gathering: the input tensor already
/// is A (group g's columns at an offset, row stride C), and is passed to the
/// GEMM as is.
///
/// The epilogue is fused per block of `rows` pixels: the block of C is
/// pre-filled with bias (+ residual), the GEMM accumulates into it (β = 1)
/// while it is cache-resident, and ReLU is applied to the same block before
/// moving on. Each block's im2col rows are likewise gathered just before the
/// GEMM reads them.
public struct Im2colGemmBackend: ConvolutionBackend {
  public let name: String
  public let summary: String
  private let loadLibrary: @Sendable () -> Result<any RowMajorSGEMM, BackendError>

  public static let openBLAS = Im2colGemmBackend(
    name: "im2col-openblas", summary: "im2col + OpenBLAS cblas_sgemm (dlopen'd privately)",
    loadLibrary: { OpenBLAS.shared.map { $0 as any RowMajorSGEMM } })
  public static let blis = Im2colGemmBackend(
    name: "im2col-blis", summary: "im2col + BLIS bli_sgemm, typed API (dlopen'd privately)",
    loadLibrary: { BLIS.shared.map { $0 as any RowMajorSGEMM } })

  /// The library this backend calls, or why it is unavailable.
  public var library: Result<any RowMajorSGEMM, BackendError> { loadLibrary() }

  public var availability: Availability {
    switch library {
    case .success: .available
    case .failure(let e): .unavailable(e.message)
    }
  }

  /// Any shape whose product dimensions fit CBLAS's 32-bit integers.
  public func supports(_ problem: ConvProblem) -> Support {
    let m = problem.batch * problem.outHeight * problem.outWidth
    let largest = max(m, problem.reductionLength, problem.outChannels * problem.groups)
    if largest > Int(Int32.max) {
      return .no("the GEMM dimension \(largest) exceeds the 32-bit integers the BLAS interface takes")
    }
    return .yes
  }

  /// After tiled-simd, the fastest general method here (OpenBLAS first, then BLIS).
  public var fallbackRank: Int? { name == Self.openBLAS.name ? 1 : 2 }

  /// The library's file, version, kernels, and which file its GEMM symbol resolved to.
  public var libraryDetails: [String: String] {
    guard case .success(let lib) = library else { return [:] }
    var out: [String: String] = [:]
    for (key, value) in lib.details { out["\(lib.libraryName).\(key)"] = value }
    out["\(lib.libraryName).\(lib.gemmSymbol)"] = lib.library.symbolFile(lib.gemmSymbol) ?? "?"
    return out
  }

  /// Pixel-block sizes tried by the tuner; 0 means one block of all M rows.
  static let rowBlockChoices = [0, 256, 512, 1024]
  /// The default block. Single-threaded, 512-pixel blocks keep each block's
  /// im2col rows and output in L2 and won on most ResNet-50 layers. With
  /// library threads, every block costs a wake-up of the library's threads
  /// and of this project's pool between its passes, and one block per layer
  /// (rows = 0) measured faster (64→64 3×3 at 56×56, 2 threads, OpenBLAS:
  /// 1.25 ms against 1.69 ms).
  static var defaultRows: Int { libraryThreads.load(ordering: .relaxed) > 1 ? 0 : 512 }

  /// The thread count last given to the libraries (`setLibraryThreads`).
  private static let libraryThreads = Atomic<Int>(1)

  public func configurations(for problem: ConvProblem, machine: MachineModel) -> [BackendConfig] {
    let m = problem.batch * problem.outHeight * problem.outWidth
    var rows = [Self.defaultRows] + Self.rowBlockChoices.filter { $0 != Self.defaultRows }
    rows = rows.filter { $0 == 0 || $0 < m }
    if rows.isEmpty { rows = [0] }
    return rows.map { BackendConfig(["rows": $0]) }
  }

  public func setLibraryThreads(_ threads: Int) {
    Self.libraryThreads.store(threads, ordering: .relaxed)
    if case .success(let lib) = library { lib.setThreads(threads) }
  }

  public func pack(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig, machine: MachineModel) throws
    -> PreparedConvolution
  {
    let lib = try library.get()
    let rows: Int
    if config == .default {
      rows = Self.defaultRows
    } else {
      guard config.parameters.keys.sorted() == ["rows"], let r = config["rows"], r >= 0 else {
        throw BackendError("\(name) has no configuration '\(config)'; expected rows=N (N ≥ 0, 0 = all rows in one block)")
      }
      rows = r
    }
    return PreparedIm2colGemm(problem: problem, weights: weights, gemm: lib, rowBlock: rows,
                              config: config == .default ? BackendConfig(["rows": rows]) : config)
  }
}

/// Something whose cost can be compared with the bare library GEMM of the
/// same M×N×K (the ceiling of any GEMM-based lowering).
public protocol GemmLowered {
  /// (M, N, K) of one group's product, and the number of groups.
  var gemmShape: (m: Int, n: Int, k: Int, groups: Int) { get }
  /// One call of the library's sgemm on contiguous M×K by K×N operands (β = 0)
  /// per group, on operands allocated once: what `bareGemm` times.
  func makeBareGemm() -> () -> Void
}

final class PreparedIm2colGemm: PreparedConvolution, GemmLowered, @unchecked Sendable {
  let problem: ConvProblem
  let config: BackendConfig
  let workspaceBytes: Int
  private let gemm: any RowMajorSGEMM
  /// B_g, one after another: K × OC/g row-major, K ordered (kh, kw, c) to
  /// match an NHWC im2col row.
  private let b: AlignedBuffer
  private let bias: AlignedBuffer
  private let rowBlock: Int
  /// Rows of the product (output pixels), reduction length and columns of one group.
  private let m: Int, k: Int, n: Int
  /// The input is A as it stands (1×1, stride 1, no padding): no gathering.
  private let direct: Bool

  init(problem: ConvProblem, weights: ConvWeights, gemm: any RowMajorSGEMM, rowBlock: Int, config: BackendConfig) {
    self.problem = problem
    self.config = config
    self.gemm = gemm
    m = problem.batch * problem.outHeight * problem.outWidth
    k = problem.reductionLength
    n = problem.groupOutChannels
    direct = problem.kernelHeight == 1 && problem.kernelWidth == 1 && problem.strideHeight == 1
      && problem.strideWidth == 1 && problem.padTop == 0 && problem.padLeft == 0
      && problem.readPadBottom == 0 && problem.readPadRight == 0
    self.rowBlock = rowBlock == 0 ? m : min(rowBlock, m)
    let ohwi = weights.ohwi(for: problem)
    let packed = AlignedBuffer(count: problem.groups * k * n)
    for g in 0..<problem.groups {
      let groupB = packed.pointer + g * k * n
      for j in 0..<n { for i in 0..<k { groupB[i * n + j] = ohwi[(g * n + j) * k + i] } }
    }
    b = packed
    bias = AlignedBuffer(weights.bias)
    workspaceBytes = direct ? 0 : self.rowBlock * problem.groups * k * MemoryLayout<Float>.stride
  }

  var gemmShape: (m: Int, n: Int, k: Int, groups: Int) { (m, n, k, problem.groups) }
  var packedWeightBytes: Int { (b.count + bias.count) * MemoryLayout<Float>.stride }
  var packedWeightBuffers: [AlignedBuffer] { [b, bias] }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    let oc = problem.outChannels, ic = problem.inChannels
    let columns = workspace.assumingMemoryBound(to: Float.self)
    let biasPointer = UnsafePointer(bias.pointer)
    var start = 0
    while start < m {
      let rows = min(rowBlock, m - start)
      let c = output + start * oc
      pool.parallelRanges(rows, grain: 16, BiasPrefill(c: c, columns: oc, bias: biasPointer, residual: residual.map { $0 + start * oc }))
      if !direct { gatherRows(input, into: columns, from: start, count: rows, pool: pool) }
      for g in 0..<problem.groups {
        // Group g's A: its columns of the input (direct) or of the gathered rows.
        let (a, lda) = direct ? (input + start * ic + g * k, ic) : (UnsafePointer(columns) + g * k, problem.groups * k)
        pool.park()  // the library's threads need the cores now
        gemm.sgemm(m: rows, n: n, k: k, alpha: 1, a: a, lda: lda, b: b.pointer + g * k * n, ldb: n, beta: 1,
                   c: c + g * n, ldc: oc)
      }
      if relu { pool.parallelRanges(rows * oc, grain: 4096, ReLUPass(c: c)) }
      start += rows
    }
  }

  /// Writes the im2col rows of output pixels `first ..< first + count`
  /// (flattened n, oy, ox): per row, every group's K values one after another.
  private func gatherRows(_ input: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>,
                          from first: Int, count: Int, pool: ThreadPool) {
    pool.parallelRanges(count, grain: 8, Im2colRows(p: problem, k: k, input: input, columns: columns, first: first))
  }

  func makeBareGemm() -> () -> Void {
    var rng = SeededGenerator(seed: 5)
    let a = AlignedBuffer(rng.normals(m * k))
    let c = AlignedBuffer(count: m * n)
    let (gemm, m, n, k, groups, b) = (self.gemm, self.m, self.n, self.k, problem.groups, self.b)
    return {
      for g in 0..<groups {
        gemm.sgemm(m: m, n: n, k: k, alpha: 1, a: a.pointer, lda: k, b: b.pointer + g * k * n, ldb: n, beta: 0,
                   c: c.pointer, ldc: n)
      }
    }
  }
}

/// Rows of C before the GEMM: the bias, plus the residual when there is one.
private struct BiasPrefill: RangeTask {
  let c: UnsafeMutablePointer<Float>
  let columns: Int
  let bias: UnsafePointer<Float>
  /// The residual of the block's first row.
  let residual: UnsafePointer<Float>?
  func run(_ range: Range<Int>) {
    for r in range {
      let row = c + r * columns
      if let residual {
        let res = residual + r * columns
        for j in 0..<columns { row[j] = bias[j] + res[j] }
      } else {
        row.update(from: bias, count: columns)
      }
    }
  }
}

/// ReLU over a block of C after the GEMM.
private struct ReLUPass: RangeTask {
  let c: UnsafeMutablePointer<Float>
  func run(_ range: Range<Int>) { for i in range { c[i] = max(c[i], 0) } }
}

/// The im2col rows of a block of output pixels (see `gatherRows`).
private struct Im2colRows: RangeTask {
  let p: ConvProblem
  let k: Int
  let input: UnsafePointer<Float>
  let columns: UnsafeMutablePointer<Float>
  let first: Int

  func run(_ range: Range<Int>) {
    let (oh, ow, channels, run, groups) = (p.outHeight, p.outWidth, p.inChannels, p.groupInChannels, p.groups)
    let (rowStep, columnStep) = (p.dilationHeight + 1, p.dilationWidth + 1)
    // Without groups or dilation a kernel row inside the image is one contiguous run of kw·C floats.
    let contiguousRows = groups == 1 && p.dilationWidth == 0
    let rowLength = p.kernelWidth * run
    for r in range {
      let pixel = first + r
      let n = pixel / (oh * ow), oy = (pixel / ow) % oh, ox = pixel % ow
      let ix0 = ox * p.strideWidth - p.padLeft
      for g in 0..<groups {
        var dst = columns + (r * groups + g) * k
        let firstChannel = g * run
        for kh in 0..<p.kernelHeight {
          let iy = oy * p.strideHeight - p.padTop + kh * rowStep
          if iy < 0 || iy >= p.inHeight {
            dst.update(repeating: 0, count: rowLength)
          } else if contiguousRows && ix0 >= 0 && ix0 + p.kernelWidth <= p.inWidth {
            dst.update(from: input + ((n * p.inHeight + iy) * p.inWidth + ix0) * channels, count: rowLength)
          } else {
            for kw in 0..<p.kernelWidth {
              let ix = ix0 + kw * columnStep
              let d = dst + kw * run
              if ix >= 0 && ix < p.inWidth {
                d.update(from: input + ((n * p.inHeight + iy) * p.inWidth + ix) * channels + firstChannel, count: run)
              } else {
                d.update(repeating: 0, count: run)
              }
            }
          }
          dst += rowLength
        }
      }
    }
  }
}

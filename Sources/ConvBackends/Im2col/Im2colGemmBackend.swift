import ConvCore
import Synchronization

/// Convolution lowered to one matrix product per block of output pixels:
/// C[M × OC] = A[M × K] · B[K × OC] with M = N·OH·OW output pixels, K = KH·KW·C.
///
/// In NHWC the output is C itself (row = pixel, column = output channel) and a
/// row of A is the receptive field of one pixel, gathered by im2col as KH·KW
/// contiguous runs of C channels. A 1×1, stride-1, unpadded layer needs no
/// gathering: the input tensor already is A, and is passed to the GEMM as is.
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

  public func supports(_ problem: ConvProblem) -> Support { .yes }

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

  public func configurations(for problem: ConvProblem) -> [BackendConfig] {
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

  public func prepare(_ problem: ConvProblem, weights: ConvWeights, config: BackendConfig) throws -> PreparedConvolution {
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
  /// (M, N, K) of the product.
  var gemmShape: (m: Int, n: Int, k: Int) { get }
  /// Median seconds of the library's sgemm on contiguous M×K by K×N operands (β = 0).
  func bareGemmSeconds(repetitions: Int) -> Double
}

final class PreparedIm2colGemm: PreparedConvolution, GemmLowered, @unchecked Sendable {
  let problem: ConvProblem
  let config: BackendConfig
  let workspaceBytes: Int
  private let gemm: any RowMajorSGEMM
  /// B: K × OC row-major, K ordered (kh, kw, c) to match an NHWC im2col row.
  private let b: AlignedBuffer
  private let bias: AlignedBuffer
  private let rowBlock: Int
  private let m: Int, k: Int

  init(problem: ConvProblem, weights: ConvWeights, gemm: any RowMajorSGEMM, rowBlock: Int, config: BackendConfig) {
    self.problem = problem
    self.config = config
    self.gemm = gemm
    m = problem.batch * problem.outHeight * problem.outWidth
    k = problem.reductionLength
    self.rowBlock = rowBlock == 0 ? m : min(rowBlock, m)
    let ohwi = weights.ohwi(for: problem)
    let oc = problem.outChannels
    let packed = AlignedBuffer(count: k * oc)
    for o in 0..<oc { for i in 0..<k { packed.pointer[i * oc + o] = ohwi[o * k + i] } }
    b = packed
    bias = AlignedBuffer(weights.bias)
    workspaceBytes = problem.isPointwise ? 0 : self.rowBlock * k * MemoryLayout<Float>.stride
  }

  var gemmShape: (m: Int, n: Int, k: Int) { (m, problem.outChannels, k) }

  func run(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutableRawPointer, pool: ThreadPool
  ) {
    let oc = problem.outChannels
    let columns = workspace.assumingMemoryBound(to: Float.self)
    let biasPointer = UnsafePointer(bias.pointer)
    var start = 0
    while start < m {
      let rows = min(rowBlock, m - start)
      let a: UnsafePointer<Float>
      if problem.isPointwise {
        a = input + start * k
      } else {
        gatherRows(input, into: columns, from: start, count: rows, pool: pool)
        a = UnsafePointer(columns)
      }
      let c = output + start * oc
      pool.parallelRanges(rows, grain: 16) { range in
        for r in range {
          let row = c + r * oc
          if let residual {
            let res = residual + (start + r) * oc
            for j in 0..<oc { row[j] = biasPointer[j] + res[j] }
          } else {
            row.update(from: biasPointer, count: oc)
          }
        }
      }
      pool.park()  // the library's threads need the cores now
      gemm.sgemm(m: rows, n: oc, k: k, alpha: 1, a: a, lda: k, b: b.pointer, ldb: oc, beta: 1, c: c, ldc: oc)
      if relu {
        pool.parallelRanges(rows * oc, grain: 4096) { range in
          for i in range { c[i] = max(c[i], 0) }
        }
      }
      start += rows
    }
  }

  /// Writes im2col rows for output pixels `first ..< first + count` (flattened n, oy, ox).
  private func gatherRows(_ input: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, from first: Int, count: Int, pool: ThreadPool) {
    let p = problem
    let (oh, ow, channels) = (p.outHeight, p.outWidth, p.inChannels)
    pool.parallelRanges(count, grain: 8) { range in
      for r in range {
        let pixel = first + r
        let n = pixel / (oh * ow), oy = (pixel / ow) % oh, ox = pixel % ow
        var dst = columns + r * k
        let rowLength = p.kernelWidth * channels
        let ix0 = ox * p.strideWidth - p.padWidth
        for kh in 0..<p.kernelHeight {
          let iy = oy * p.strideHeight - p.padHeight + kh
          if iy < 0 || iy >= p.inHeight {
            dst.update(repeating: 0, count: rowLength)
          } else if ix0 >= 0 && ix0 + p.kernelWidth <= p.inWidth {
            // The kernel row lies inside the image: in NHWC its kw pixels are
            // one contiguous run of kw·C floats.
            dst.update(from: input + ((n * p.inHeight + iy) * p.inWidth + ix0) * channels, count: rowLength)
          } else {
            for kw in 0..<p.kernelWidth {
              let ix = ix0 + kw
              let d = dst + kw * channels
              if ix >= 0 && ix < p.inWidth {
                d.update(from: input + ((n * p.inHeight + iy) * p.inWidth + ix) * channels, count: channels)
              } else {
                d.update(repeating: 0, count: channels)
              }
            }
          }
          dst += rowLength
        }
      }
    }
  }

  func bareGemmSeconds(repetitions: Int) -> Double {
    let n = problem.outChannels
    var rng = SeededGenerator(seed: 5)
    let a = AlignedBuffer(rng.normals(m * k))
    let c = AlignedBuffer(count: m * n)
    let once = { self.gemm.sgemm(m: self.m, n: n, k: self.k, alpha: 1, a: a.pointer, lda: self.k,
                                 b: self.b.pointer, ldb: n, beta: 0, c: c.pointer, ldc: n) }
    once()
    var samples = (0..<repetitions).map { _ in Stopwatch.time(once) }
    samples.sort()
    return samples[samples.count / 2]
  }
}

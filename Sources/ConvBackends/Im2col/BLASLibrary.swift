import ConvCore
import _LoaderShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A BLAS library opened privately with `dlopen(RTLD_NOW | RTLD_LOCAL)`.
///
/// OpenBLAS and BLIS export the same names (`cblas_sgemm`, `sgemm_`, …). Linked
/// the ordinary way, the dynamic linker would bind each name to whichever
/// library it met first, and a "BLIS" backend could silently time OpenBLAS.
/// Opening each library file on its own, with local symbol scope, and taking
/// every function from that handle makes each backend call its own library;
/// `symbolFile` (dladdr) proves where a function pointer lives.
public final class BLASLibrary: @unchecked Sendable {
  /// The file that was opened, as resolved by the dynamic loader (symlinks followed).
  public let path: String
  private let handle: UnsafeMutableRawPointer

  private init(path: String, handle: UnsafeMutableRawPointer) {
    self.path = path
    self.handle = handle
  }

  /// Opens the first of `candidates` that loads and exports every symbol in
  /// `required`; an environment variable named `override`, when set, replaces
  /// the candidates (used to test the missing-library path).
  static func open(candidates: [String], override: String, required: [String]) -> Result<BLASLibrary, BackendError> {
    let paths = ProcessInfo.processInfo.environment[override].map { [$0] } ?? candidates
    var failures: [String] = []
    for candidate in paths {
      guard let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) else {
        failures.append(dlerror().map { String(cString: $0) } ?? "\(candidate): cannot open")
        continue
      }
      if let missing = required.first(where: { dlsym(handle, $0) == nil }) {
        failures.append("\(candidate) lacks \(missing)")
        dlclose(handle)
        continue
      }
      let library = BLASLibrary(path: candidate, handle: handle)
      let resolved = library.symbolFile(required[0]) ?? candidate
      return .success(BLASLibrary(path: resolved, handle: handle))
    }
    return .failure(BackendError(failures.last ?? "no candidate library"))
  }

  /// The function `name` from this library, cast to the C function type `T`.
  func function<T>(_ name: String, as type: T.Type) -> T {
    guard let symbol = dlsym(handle, name) else { fatalError("\(name) vanished from \(path)") }
    return unsafeBitCast(symbol, to: type)
  }

  /// The real path of the shared object that defines `name` in this handle (via dladdr).
  public func symbolFile(_ name: String) -> String? {
    guard let symbol = dlsym(handle, name) else { return nil }
    return Self.fileDefining(UnsafeRawPointer(symbol))
  }

  /// The real path of the shared object containing `address` (via dladdr).
  public static func fileDefining(_ address: UnsafeRawPointer) -> String? {
    guard let name = resnet_bench_object_path(address) else { return nil }
    let file = String(cString: name)
    guard let real = realpath(file, nil) else { return file }
    defer { free(real) }
    return String(cString: real)
  }
}

/// Library paths, from the alternatives links Debian maintains to the
/// flavour-specific files; the loader's search path comes first.
enum BLASCandidates {
  static let multiarch = "/usr/lib/x86_64-linux-gnu"
  static let openBLAS = [
    "libopenblas.so.0", "\(multiarch)/libopenblas.so.0",
    "\(multiarch)/openblas-pthread/libopenblas.so.0", "\(multiarch)/openblas-openmp/libopenblas.so.0",
    "\(multiarch)/openblas-serial/libopenblas.so.0", "/usr/lib64/libopenblas.so.0", "/usr/local/lib/libopenblas.so.0",
  ]
  static let blis = [
    "libblis.so.4", "\(multiarch)/libblis.so.4",
    "\(multiarch)/blis-openmp/libblis.so.4", "\(multiarch)/blis-pthread/libblis.so.4",
    "\(multiarch)/blis-serial/libblis.so.4", "/usr/lib64/libblis.so.4", "/usr/local/lib/libblis.so.4",
  ]
}

/// Row-major single-precision GEMM, C = α·A·B + β·C, with A M×K (row stride
/// lda), B K×N (ldb), C M×N (ldc), no transposes: the one operation the im2col
/// backends need from a library.
public protocol RowMajorSGEMM: AnyObject, Sendable {
  /// Library name for reports: "OpenBLAS", "BLIS".
  var libraryName: String { get }
  var library: BLASLibrary { get }
  /// The exported symbol that `sgemm` calls (for provenance checks).
  var gemmSymbol: String { get }
  func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
             b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
  func setThreads(_ n: Int)
  /// Version, configuration and the kernels it selected on this CPU.
  var details: [(key: String, value: String)] { get }
}

/// OpenBLAS through its CBLAS interface.
public final class OpenBLAS: RowMajorSGEMM, @unchecked Sendable {
  private typealias CblasSgemm = @convention(c) (
    Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
    UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
  private typealias SetThreads = @convention(c) (Int32) -> Void
  private typealias GetString = @convention(c) () -> UnsafePointer<CChar>?

  // CBLAS enumeration values (cblas.h): CblasRowMajor, CblasNoTrans.
  private static let rowMajor: Int32 = 101
  private static let noTranspose: Int32 = 111

  public let library: BLASLibrary
  public let libraryName = "OpenBLAS"
  public let gemmSymbol = "cblas_sgemm"
  private let gemm: CblasSgemm
  private let setNumThreads: SetThreads
  private let config: GetString
  private let coreName: GetString

  /// OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after a call
  /// before they sleep. When `run` alternates backends round by round, that
  /// spin lands on the next backend's inference and made the rows after an
  /// OpenBLAS row noisy (CV 30–50%). 2^20 cycles (~0.4 ms) still keeps them
  /// awake between the layers of one inference. Applied unless the user set
  /// it, before the library reads it at load; `env` reports the value.
  static let threadTimeoutExponent = "20"

  /// The process's OpenBLAS, or why there is none.
  public static let shared: Result<OpenBLAS, BackendError> = {
    setenv("OPENBLAS_THREAD_TIMEOUT", threadTimeoutExponent, 0)
    return BLASLibrary.open(
      candidates: BLASCandidates.openBLAS, override: "RESNET_BENCH_OPENBLAS_LIBRARY",
      required: ["cblas_sgemm", "openblas_set_num_threads", "openblas_get_config", "openblas_get_corename"]
    ).map(OpenBLAS.init).mapError { BackendError("OpenBLAS not loadable (\($0.message)); install libopenblas-dev") }
  }()

  private init(_ library: BLASLibrary) {
    self.library = library
    gemm = library.function("cblas_sgemm", as: CblasSgemm.self)
    setNumThreads = library.function("openblas_set_num_threads", as: SetThreads.self)
    config = library.function("openblas_get_config", as: GetString.self)
    coreName = library.function("openblas_get_corename", as: GetString.self)
  }

  public func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    gemm(Self.rowMajor, Self.noTranspose, Self.noTranspose, Int32(m), Int32(n), Int32(k), alpha,
         a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  public func setThreads(_ n: Int) { setNumThreads(Int32(n)) }

  public var details: [(key: String, value: String)] {
    [("file", library.path),
     ("config", config().map { String(cString: $0) } ?? "?"),
     ("core", coreName().map { String(cString: $0) } ?? "?"),
     ("OPENBLAS_CORETYPE", ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)"),
     ("OPENBLAS_THREAD_TIMEOUT", ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] ?? "(unset)")]
  }
}

/// BLIS through its native typed API, `bli_sgemm`, which takes a row and a
/// column stride for every operand (so row-major needs no transposition trick).
public final class BLIS: RowMajorSGEMM, @unchecked Sendable {
  // bli_sgemm(transa, transb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
  // trans_t is a C enum, dim_t and inc_t are 64-bit in Debian's build.
  private typealias Sgemm = @convention(c) (
    Int32, Int32, Int, Int, Int, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int,
    UnsafeMutablePointer<Float>?, Int, Int, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int) -> Void
  private typealias SetThreads = @convention(c) (Int) -> Void
  private typealias GetString = @convention(c) () -> UnsafePointer<CChar>?
  private typealias ArchQuery = @convention(c) () -> Int32
  private typealias ArchString = @convention(c) (Int32) -> UnsafePointer<CChar>?

  /// BLIS_NO_TRANSPOSE (blis.h).
  private static let noTranspose: Int32 = 0

  public let library: BLASLibrary
  public let libraryName = "BLIS"
  public let gemmSymbol = "bli_sgemm"
  private let gemm: Sgemm
  private let setNumThreads: SetThreads
  private let version: GetString
  private let archQuery: ArchQuery
  private let archString: ArchString

  /// Debian's BLIS runs on OpenMP, whose idle threads busy-wait by default
  /// (OMP_WAIT_POLICY=active): between two GEMMs they would keep the cores
  /// that this project's own pool needs for im2col and the epilogue, and a
  /// 3×3 layer measured ~20× slower with 2 threads. Unless the user chose a
  /// policy, idle OpenMP threads sleep. Set before the library (and libgomp)
  /// is loaded, which is when libgomp reads it; `env` reports the value.
  static let openMPWaitPolicy = "passive"

  public static let shared: Result<BLIS, BackendError> = {
    setenv("OMP_WAIT_POLICY", openMPWaitPolicy, 0)
    return load()
  }()

  private static func load() -> Result<BLIS, BackendError> { BLASLibrary.open(
    candidates: BLASCandidates.blis, override: "RESNET_BENCH_BLIS_LIBRARY",
    required: ["bli_sgemm", "bli_thread_set_num_threads", "bli_info_get_version_str", "bli_arch_query_id", "bli_arch_string"]
  ).map(BLIS.init).mapError { BackendError("BLIS not loadable (\($0.message)); install libblis-dev") } }

  private init(_ library: BLASLibrary) {
    self.library = library
    gemm = library.function("bli_sgemm", as: Sgemm.self)
    setNumThreads = library.function("bli_thread_set_num_threads", as: SetThreads.self)
    version = library.function("bli_info_get_version_str", as: GetString.self)
    archQuery = library.function("bli_arch_query_id", as: ArchQuery.self)
    archString = library.function("bli_arch_string", as: ArchString.self)
  }

  public func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    var alpha = alpha, beta = beta
    gemm(Self.noTranspose, Self.noTranspose, m, n, k, &alpha, UnsafeMutablePointer(mutating: a), lda, 1,
         UnsafeMutablePointer(mutating: b), ldb, 1, &beta, c, ldc, 1)
  }

  public func setThreads(_ n: Int) { setNumThreads(n) }

  public var details: [(key: String, value: String)] {
    [("file", library.path),
     ("version", version().map { String(cString: $0) } ?? "?"),
     ("arch", archString(archQuery()).map { String(cString: $0) } ?? "?"),
     ("OMP_WAIT_POLICY", ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] ?? "(unset)")]
  }
}

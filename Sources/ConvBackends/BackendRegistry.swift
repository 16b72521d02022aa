import Foundation
import ConvCore

/// The one list of convolution backends. The CLI, the tuner, the harness, the
/// tests and the benchmarks all iterate over it; adding a backend means adding
/// its folder and one line here.
public enum BackendRegistry {
  public static let all: [any ConvolutionBackend] = [
    NaiveDirectBackend(),
    TiledSIMDBackend(),
    Im2colGemmBackend.openBLAS,
    Im2colGemmBackend.blis,
    WinogradBackend(),
  ]

  public static var names: [String] { all.map(\.name) }

  public static var available: [any ConvolutionBackend] { all.filter { $0.availability.isAvailable } }

  /// The backend called `name`, or nil.
  public static func named(_ name: String) -> (any ConvolutionBackend)? {
    all.first { $0.name == name }
  }

  /// Resolves a comma-separated list (or `all`) to backends, failing on an unknown name.
  public static func resolve(_ list: String) throws -> [any ConvolutionBackend] {
    if list == "all" { return all }
    return try list.split(separator: ",").map { raw in
      let name = raw.trimmingCharacters(in: .whitespaces)
      guard let backend = named(name) else {
        throw BackendError("unknown backend '\(name)'; known: \(names.joined(separator: ", "))")
      }
      return backend
    }
  }

  /// Applies one thread count to every library that keeps its own.
  public static func setLibraryThreads(_ threads: Int) {
    for backend in all where backend.availability.isAvailable { backend.setLibraryThreads(threads) }
  }
}

extension BackendRegistry {
  /// Backends tried, in order, for a layer that the requested backend cannot
  /// compute (e.g. a strided layer under `winograd`): general direct methods,
  /// fastest first as measured on the reference machine.
  public static let fallbackOrder = ["tiled-simd", "im2col-openblas", "im2col-blis", "naive"]

  public static func fallback(for problem: ConvProblem) -> (any ConvolutionBackend)? {
    fallbackOrder.lazy.compactMap { named($0) }.first { $0.canRun(problem).isSupported }
  }
}

extension BackendRegistry {
  /// What each library-backed backend bound to and what the library reports
  /// about itself, as "Library.key" → value (e.g. "OpenBLAS.core" → "Haswell").
  public static var libraryDetails: [String: String] {
    var out: [String: String] = [:]
    for case let backend as Im2colGemmBackend in all {
      guard case .success(let lib) = backend.library else { continue }
      for (key, value) in lib.details { out["\(lib.libraryName).\(key)"] = value }
      out["\(lib.libraryName).\(lib.gemmSymbol)"] = lib.library.symbolFile(lib.gemmSymbol) ?? "?"
    }
    return out
  }
}

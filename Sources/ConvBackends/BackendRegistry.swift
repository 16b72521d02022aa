import Foundation
import ConvCore

/// The one list of convolution backends. The CLI, the tuner, the harness, the
/// tests and the benchmarks all iterate over it; adding a backend means adding
/// its folder and one line here. Whatever else differs between backends is a
/// capability of the protocol, never a test of a name.
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

  /// Position of `backend` in the registry (for deterministic orderings).
  public static func index(of backend: any ConvolutionBackend) -> Int {
    all.firstIndex { $0.name == backend.name } ?? all.count
  }

  /// Resolves a comma-separated list (or `all`) to backends, failing on an unknown name.
  public static func resolve(_ list: String) throws -> [any ConvolutionBackend] {
    if list == "all" { return all }
    var out: [any ConvolutionBackend] = []
    for raw in list.split(separator: ",", omittingEmptySubsequences: false) {
      let name = raw.trimmingCharacters(in: .whitespaces)
      guard let backend = named(name) else {
        throw BackendError("unknown backend '\(name)'; known: \(names.joined(separator: ", ")) (or 'all')")
      }
      if !out.contains(where: { $0.name == name }) { out.append(backend) }
    }
    return out
  }

  /// Applies one thread count to every library that keeps its own.
  public static func setLibraryThreads(_ threads: Int) {
    for backend in all where backend.availability.isAvailable { backend.setLibraryThreads(threads) }
  }

  /// Backends that may stand in for a layer another cannot compute, by `fallbackRank`.
  public static var fallbackOrder: [any ConvolutionBackend] {
    all.filter { $0.fallbackRank != nil }.sorted { $0.fallbackRank! < $1.fallbackRank! }
  }

  /// The first of `fallbackOrder` that can compute `problem`.
  public static func fallback(for problem: ConvProblem) -> (any ConvolutionBackend)? {
    fallbackOrder.first { $0.canRun(problem).isSupported }
  }

  /// What each library-backed backend bound to and what the library reports
  /// about itself, as "Library.key" → value (e.g. "OpenBLAS.core" → "Haswell").
  public static var libraryDetails: [String: String] {
    all.reduce(into: [:]) { out, backend in out.merge(backend.libraryDetails) { first, _ in first } }
  }
}

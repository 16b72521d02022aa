import _SignalShims
import Foundation

/// Writes a file through a temporary file in the same folder and a rename, so a
/// reader (or an interrupted run) never sees a half-written file: the old file
/// stays as it was until the rename replaces it whole.
///
/// An interruption by SIGINT, SIGTERM or SIGHUP while the temporary exists
/// removes the temporary before the process ends (`_SignalShims`), so nothing
/// is left behind beside the old file either.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    try write(to: url) { try data.write(to: $0) }
  }

  /// Hands `body` a temporary path in the folder of `url` to create the file
  /// at, then renames it to `url`; on failure the temporary file is removed.
  /// A `WeightsFileError` from `body` is passed on as it is.
  public static func write(to url: URL, _ body: (URL) throws -> Void) throws {
    let temp = temporaryURL(for: url)
    let registered = resnet_bench_pending_file_set(temp.path) == 0
    defer { if registered { resnet_bench_pending_file_clear() } }
    do {
      try body(temp)
      guard rename(temp.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    } catch {
      try? FileManager.default.removeItem(at: temp)
      if let error = error as? WeightsFileError { throw error }
      throw WeightsFileError("\(url.path): cannot write (\(error.localizedDescription))")
    }
  }

  /// Where the temporary for `url` is created: beside it, hidden, named after this process.
  public static func temporaryURL(for url: URL) -> URL {
    url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
  }
}

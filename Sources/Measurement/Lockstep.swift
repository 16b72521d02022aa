import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turn-taking with another process, for A/B measurements whose two sides
/// are different binaries. On a shared machine two processes run one after
/// the other see different machine states (this host changes speed on a
/// scale of seconds), so comparing their medians compares the states as much
/// as the builds. In lockstep, a driver starts both processes, lets each
/// finish its set-up, then grants turns alternately: one sampling round of
/// one process, then one of the other. Round `r` of the two sides is then
/// measured a fraction of a second apart, and the two rounds pair.
///
/// Protocol, over two named pipes created by the driver: before each round
/// (warm-up rounds included) the process reads one line from `PREFIX.go`;
/// after it, it writes one line to `PREFIX.done`. The pipes are opened at the
/// first turn, after the set-up, so the driver's open blocks until the
/// process is ready. The last turn (`beginFinalTurn`) is not handed back:
/// it ends when the process exits and the pipe closes, so nothing this
/// process does after its rounds overlaps the other's. When the driver
/// closes `PREFIX.go` the process stops waiting and runs freely.
public final class Lockstep: @unchecked Sendable {
  public let prefix: String
  private var go: UnsafeMutablePointer<FILE>?
  private var done: UnsafeMutablePointer<FILE>?
  private var released = false

  /// A lockstep error: one line naming the pipe.
  public struct SetupError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Checks that both pipes exist and are FIFOs (they are opened later).
  /// A driver that goes away must not kill this process: writing to a pipe
  /// without a reader then fails (EPIPE) instead of raising SIGPIPE, and the
  /// process carries on without turns.
  public init(prefix: String) throws {
    self.prefix = prefix
    signal(SIGPIPE, SIG_IGN)
    for path in [prefix + ".go", prefix + ".done"] {
      var info = stat()
      guard stat(path, &info) == 0 else { throw SetupError(description: "\(path): no such named pipe (create it with mkfifo)") }
      guard (info.st_mode & S_IFMT) == S_IFIFO else { throw SetupError(description: "\(path): not a named pipe") }
    }
  }

  deinit {
    if let go { fclose(go) }
    if let done { fclose(done) }
  }

  /// Waits for the driver to grant the next turn.
  public func begin() {
    if released { return }
    if go == nil {
      go = fopen(prefix + ".go", "r")
      done = fopen(prefix + ".done", "w")
      if go == nil || done == nil { released = true; return }
    }
    var line = [CChar](repeating: 0, count: 16)
    if fgets(&line, Int32(line.count), go) == nil { released = true }
  }

  /// Waits for a turn that is never handed back: the work after the last
  /// round runs alone, and the driver learns it ended when the process
  /// exits and the pipe closes.
  public func beginFinalTurn() {
    begin()
    released = true
  }

  /// Hands the turn back.
  public func end() {
    if released { return }
    if fputs("done\n", done) < 0 || fflush(done) != 0 { released = true }
  }
}

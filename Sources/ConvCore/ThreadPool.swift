import Foundation
import Synchronization

/// A persistent pool of worker threads that run one parallel loop at a time.
///
/// The calling thread takes part in every loop, so a pool of `threadCount`
/// threads starts `threadCount - 1` workers. Idle workers spin briefly on an
/// atomic generation counter (a loop dispatched within that window starts in
/// well under a microsecond), then yield, then sleep on a condition variable so
/// an idle pool costs nothing. Work is handed out one index at a time from an
/// atomic counter, so uneven tasks balance themselves.
///
/// A loop started while another runs (from inside a task, or from a second
/// thread) runs serially on its caller; the pool never deadlocks on nesting.
public final class ThreadPool: @unchecked Sendable {
  public let threadCount: Int

  private let generation = Atomic<Int>(0)
  private let nextIndex = Atomic<Int>(0)
  private let busyWorkers = Atomic<Int>(0)
  private let running = Atomic<Bool>(false)
  private let sleepLock = NSCondition()
  // Written by the dispatching thread before `generation` is released, read by
  // workers after they acquire it.
  private var taskCount = 0
  private var job: ((Int) -> Void)?

  /// Spin iterations before an idle worker starts yielding, and yields before it sleeps.
  /// Kept short (a few microseconds) because the BLAS libraries run their own
  /// threads between this pool's loops: a long spin would steal their core.
  private static let spinIterations = 2_000
  private static let yieldIterations = 200

  private static let registry = Mutex<[Int: ThreadPool]>([:])

  /// The process-wide pool with `threads` threads (including the caller),
  /// created on first use and kept for the life of the process: workers are
  /// started once, never per layer or per run.
  public static func shared(threads: Int) -> ThreadPool {
    precondition(threads >= 1, "a thread pool needs at least one thread")
    return registry.withLock { pools in
      if let pool = pools[threads] { return pool }
      let pool = ThreadPool(threads: threads)
      pools[threads] = pool
      return pool
    }
  }

  private init(threads: Int) {
    threadCount = threads
    for index in 1..<threads {
      let thread = Thread { self.workerLoop() }
      thread.name = "resnet-bench.worker.\(index)"
      thread.stackSize = 1 << 22
      thread.start()
    }
  }

  /// The number of hardware threads this process may use.
  public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

  /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool; returns
  /// when all have finished.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if threadCount == 1 || count == 1
      || !running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      job = escapable
      taskCount = count
      nextIndex.store(0, ordering: .relaxed)
      busyWorkers.store(threadCount - 1, ordering: .relaxed)
      generation.add(1, ordering: .releasing)
      sleepLock.lock()
      sleepLock.broadcast()
      sleepLock.unlock()
      drainTasks()
      while busyWorkers.load(ordering: .acquiring) > 0 {}
      job = nil
    }
    running.store(false, ordering: .releasing)
  }

  /// Splits `0..<total` into contiguous chunks of at least `grain` items, about
  /// `chunksPerThread` per thread, and runs `body` on each chunk.
  public func parallelRanges(
    _ total: Int, grain: Int = 1, chunksPerThread: Int = 4, _ body: (Range<Int>) -> Void
  ) {
    if total <= 0 { return }
    let wanted = max(1, threadCount * chunksPerThread)
    let chunk = max(grain, (total + wanted - 1) / wanted)
    let chunks = (total + chunk - 1) / chunk
    parallelFor(chunks) { c in body(c * chunk..<min(total, (c + 1) * chunk)) }
  }

  private func drainTasks() {
    guard let job else { return }
    while true {
      let i = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
      if i >= taskCount { return }
      job(i)
    }
  }

  private func workerLoop() {
    var seen = 0
    while true {
      var polls = 0
      var current = generation.load(ordering: .acquiring)
      while current == seen {
        polls += 1
        if polls > Self.spinIterations + Self.yieldIterations {
          sleepLock.lock()
          while generation.load(ordering: .acquiring) == seen {
            sleepLock.wait()
          }
          sleepLock.unlock()
          polls = 0
        } else if polls > Self.spinIterations {
          sched_yield()
        }
        current = generation.load(ordering: .acquiring)
      }
      seen = current
      drainTasks()
      busyWorkers.subtract(1, ordering: .releasing)
    }
  }
}

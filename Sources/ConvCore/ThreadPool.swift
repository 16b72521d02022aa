import Foundation
import Synchronization

/// A persistent pool of worker threads that run one parallel loop at a time.
///
/// The calling thread takes part in every loop, so a pool of `threadCount`
/// threads starts `threadCount - 1` workers. Tasks are claimed one index at a
/// time from a single atomic ticket that packs the loop's generation and the
/// range of indices not yet claimed; a worker can only claim a task of the
/// loop that is running, and the caller waits for tasks to finish, never for a
/// worker to show up. That matters on a small machine: a worker that has
/// lost its core to another process (or to a BLAS library's spinning threads)
/// does not hold the loop up, the caller simply runs the remaining tasks itself.
///
/// The caller claims from the front of the range and the workers from its
/// back, so on two threads the caller runs the first part of every loop and
/// the worker the last, meeting wherever their speeds put them. Kernels order
/// their tasks by output position, so a thread mostly reads the activations it
/// wrote itself in the layer before, from its own core's L2, rather than half
/// of them from the other core's (pthreadpool, which XNNPACK runs on, gives
/// each thread a contiguous range and lets idle threads steal from the far end
/// for the same reason). With more than two threads every worker takes from
/// the back, so only the caller keeps a part of its own.
///
/// Idle workers poll the ticket for `idleSpinSeconds` (a loop dispatched within
/// that window starts in well under a microsecond; waking a sleeping worker
/// measured ~25–50 µs here, which a network of 50 layers would pay 50 times),
/// then sleep on a condition variable. Before handing the cores to a library
/// with threads of its own (a BLAS), call `park()`: spinning workers then
/// sleep at once instead of competing with it.
///
/// A loop started while another runs (from inside a task, or from a second
/// thread), even a loop of one task, runs serially on its caller; the pool
/// never deadlocks on nesting.
///
/// With `accountsBusyTime` on, the pool adds up the thread-seconds its
/// threads spend running tasks (`busySeconds`): against the threads × the
/// loops' wall time, the rest is what they spent waiting for each other at
/// the end of a loop, for a sleeping worker to wake at its start, or outside
/// the pool (serial code, a BLAS library's own threads). Off by default: it
/// reads the clock twice per task.
public final class ThreadPool: @unchecked Sendable {
  public let threadCount: Int

  // Ticket layout: generation (24 bits) | end (20 bits) | next index (20 bits);
  // the tasks not yet claimed are next..<end.
  private static let indexBits: UInt64 = 20
  private static let countBits: UInt64 = 20
  private static let fieldMask: UInt64 = (1 << 20) - 1
  private static let generationMask: UInt64 = (1 << 24) - 1
  /// Largest task count one ticket can describe; larger loops are dispatched in batches.
  static let maxTasksPerDispatch = Int(fieldMask)

  private let ticket = Atomic<UInt64>(0)
  private let completed = Atomic<Int>(0)
  private let running = Atomic<Bool>(false)
  private let parkRequested = Atomic<Bool>(false)
  private let accounting = Atomic<Bool>(false)
  private let busyNanoseconds = Atomic<Int>(0)
  private let sleepLock = NSCondition()
  private var generation: UInt64 = 0
  // Written by the dispatching thread before the ticket is released; read by a
  // worker only after it has claimed a task of that generation: the loop's
  // task (its address on the dispatching thread's stack, valid for the
  // loop's duration), its type, and the batch's first index. A task is a
  // value, not a stored closure: making a closure escape into a property
  // makes Swift allocate a context for it on every loop, and a steady-state
  // inference must allocate nothing.
  private var job: UnsafeRawPointer?
  private var jobType: (any ParallelTask.Type)?
  private var jobOffset = 0

  /// How long an idle worker polls before it sleeps, seconds.
  public static let idleSpinSeconds = 0.002
  /// Polls between two looks at the clock.
  private static let pollsPerClockCheck = 256

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

  /// Whether the pool adds up its threads' time in tasks (`busySeconds`).
  public var accountsBusyTime: Bool {
    get { accounting.load(ordering: .relaxed) }
    set { accounting.store(newValue, ordering: .relaxed) }
  }

  /// Thread-seconds spent in tasks of top-level loops while `accountsBusyTime`
  /// was on, summed over the threads (a loop nested in a task is part of that
  /// task's time); on a one-thread pool, nothing is counted.
  public var busySeconds: Double { Double(busyNanoseconds.load(ordering: .relaxed)) * 1e-9 }

  /// Runs `task.run(i)` for every `i` in `0..<count`, spread over the pool;
  /// returns when all have finished. Allocates nothing: the form every
  /// kernel's parallel loop uses.
  public func parallelFor<T: ParallelTask>(_ count: Int, _ task: T) {
    if count <= 0 { return }
    if threadCount == 1 || !running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
      for i in 0..<count { task.run(i) }
      return
    }
    if count == 1 {
      // Not worth waking a worker; the caller alone is busy.
      let start = accounting.load(ordering: .relaxed) ? MonotonicClock.now() : nil
      task.run(0)
      if let start { addBusy(since: start) }
      running.store(false, ordering: .releasing)
      return
    }
    withUnsafePointer(to: TaskFrame(task: task)) { pointer in
      var start = 0
      while start < count {
        let batch = min(count - start, Self.maxTasksPerDispatch)
        dispatch(batch, offset: start, UnsafeRawPointer(pointer), T.self)
        start += batch
      }
    }
    running.store(false, ordering: .releasing)
  }

  /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool. The
  /// closure is wrapped for the workers, which costs one small allocation per
  /// call: for setup and measurement code, not for a kernel's loop.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { escapable in parallelFor(count, ClosureTask(body: escapable)) }
  }

  private func dispatch(_ count: Int, offset: Int, _ task: UnsafeRawPointer, _ type: any ParallelTask.Type) {
    job = task
    jobType = type
    jobOffset = offset
    completed.store(0, ordering: .relaxed)
    parkRequested.store(false, ordering: .relaxed)
    generation = (generation + 1) & Self.generationMask
    ticket.store(generation << (Self.indexBits + Self.countBits) | UInt64(count) << Self.indexBits, ordering: .releasing)
    sleepLock.lock()
    sleepLock.broadcast()
    sleepLock.unlock()
    drainTasks(generation: generation, fromBack: false)
    while completed.load(ordering: .acquiring) < count {}
    job = nil
    jobType = nil
  }

  /// Splits `0..<total` into contiguous chunks of at least `grain` items, about
  /// `chunksPerThread` per thread, and runs `task` on each chunk.
  public func parallelRanges<T: RangeTask>(_ total: Int, grain: Int = 1, chunksPerThread: Int = 4, _ task: T) {
    if total <= 0 { return }
    let wanted = max(1, threadCount * chunksPerThread)
    let chunk = max(grain, (total + wanted - 1) / wanted)
    parallelFor((total + chunk - 1) / chunk, Chunks(task: task, chunk: chunk, total: total))
  }

  /// Sends idle workers to sleep now rather than at the end of their spin,
  /// e.g. before a call into a library that runs its own threads.
  public func park() {
    if threadCount > 1 { parkRequested.store(true, ordering: .relaxed) }
  }

  private static func generation(of t: UInt64) -> UInt64 { t >> (indexBits + countBits) }

  private func addBusy(since start: Double) {
    busyNanoseconds.add(Int(((MonotonicClock.now() - start) * 1e9).rounded()), ordering: .relaxed)
  }

  /// Claims and runs tasks of loop `generation` until none is left: the
  /// lowest unclaimed index each time, or the highest when `fromBack`.
  private func drainTasks(generation: UInt64, fromBack: Bool) {
    var t = ticket.load(ordering: .acquiring)
    while Self.generation(of: t) == generation {
      let next = Int(t & Self.fieldMask)
      let end = Int((t >> Self.indexBits) & Self.fieldMask)
      if next >= end { return }
      let (index, desired) = fromBack ? (end - 1, t - (1 << Self.indexBits)) : (next, t + 1)
      let (claimed, actual) = ticket.compareExchange(expected: t, desired: desired, ordering: .acquiringAndReleasing)
      if claimed, let job, let jobType {
        let start = accounting.load(ordering: .relaxed) ? MonotonicClock.now() : nil
        jobType.runTask(at: job, jobOffset + index)
        if let start { addBusy(since: start) }
        completed.add(1, ordering: .releasing)
        t = ticket.load(ordering: .acquiring)
      } else {
        t = actual
      }
    }
  }

  private func workerLoop() {
    var seen = Self.generation(of: ticket.load(ordering: .acquiring))
    while true {
      var polls = 0
      var spinStart = MonotonicClock.now()
      var current = Self.generation(of: ticket.load(ordering: .acquiring))
      while current == seen {
        polls += 1
        if parkRequested.load(ordering: .relaxed)
          || (polls % Self.pollsPerClockCheck == 0 && MonotonicClock.now() - spinStart > Self.idleSpinSeconds)
        {
          sleepLock.lock()
          while Self.generation(of: ticket.load(ordering: .acquiring)) == seen {
            sleepLock.wait()
          }
          sleepLock.unlock()
          spinStart = MonotonicClock.now()
        }
        current = Self.generation(of: ticket.load(ordering: .acquiring))
      }
      seen = current
      drainTasks(generation: current, fromBack: true)
    }
  }
}

/// The body of a parallel loop as a value: `run(i)` for each index, from any
/// worker thread. Kernels write their loops as small structs of pointers and
/// sizes, which the pool hands to its workers by address, so a loop costs no
/// allocation (a closure would).
public protocol ParallelTask {
  func run(_ index: Int)
  /// Runs the task stored at `pointer`; the pool calls this through the
  /// task's type, so the task need not be stored as an existential.
  static func runTask(at pointer: UnsafeRawPointer, _ index: Int)
}

extension ParallelTask {
  @inline(__always)
  public static func runTask(at pointer: UnsafeRawPointer, _ index: Int) {
    pointer.assumingMemoryBound(to: TaskFrame<Self>.self).pointee.task.run(index)
  }
}

/// A task as the pool holds it for its workers: never of size zero, so its
/// address is a real one (Swift hands out no meaningful address for a value
/// of an empty type, and an empty task — the pool's own dispatch probe — once
/// reached the workers as a null pointer and hung the loop).
struct TaskFrame<T: ParallelTask> {
  let task: T
  let nonEmpty = 1
}

/// The body of `parallelRanges`: one contiguous range of items at a time.
public protocol RangeTask {
  func run(_ range: Range<Int>)
}

/// `parallelRanges`' chunks as a parallel task.
struct Chunks<T: RangeTask>: ParallelTask {
  let task: T
  let chunk: Int
  let total: Int
  func run(_ c: Int) { task.run(c * chunk..<min(total, (c + 1) * chunk)) }
}

/// A closure as a parallel task (the allocating convenience form).
struct ClosureTask: ParallelTask {
  let body: (Int) -> Void
  func run(_ index: Int) { body(index) }
}

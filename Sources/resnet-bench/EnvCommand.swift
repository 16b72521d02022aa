import ArgumentParser
import Harness
import Tuning

struct EnvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "env",
    abstract: "Print the machine and build fingerprint: CPU, ISA, cores, build flags, libraries and what each backend bound to.",
    discussion: "Example: resnet-bench env --threads 2")

  @OptionGroup var threading: ThreadOptions

  func run() throws {
    let pool = threading.configure()
    let fp = MachineFingerprint.current(threads: pool.threadCount)
    print(fp.report(), terminator: "")
    let peak = FMAPeak.measure(pool: pool)
    let overhead = PoolOverhead.measure(pool: pool)
    print("pool dispatch: \(fixed(overhead.hot * 1e6, 2)) µs back to back, \(fixed(overhead.afterIdle * 1e6, 2)) µs after the workers slept (empty loop over \(pool.threadCount) threads, median)")
    print("fma peak:   \(fixed(peak.singleThread, 1)) GFLOP/s on 1 thread, \(fixed(peak.allThreads, 1)) GFLOP/s on \(peak.threads) threads (FP32, SIMD16 FMA chains)")
  }
}

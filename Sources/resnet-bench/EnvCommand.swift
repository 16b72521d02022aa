import ArgumentParser
import ConvBackends
import ConvCore
import Foundation
import Harness
import Measurement
import ResNet
import Tuning

struct EnvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "env",
    abstract: "Print the machine and build fingerprint: CPU, vector width, caches, build flags, libraries, what each backend bound to, the FMA peak.",
    discussion: """
      --json prints the same as JSON, with the facts scripts must share with
      the tool instead of copying: the agreement rule (error floor, network
      tolerances, top-k), every model's architecture, every backend's
      capabilities.

      Examples:
        resnet-bench env --threads 2
        resnet-bench env --json
      """)

  @OptionGroup var threading: ThreadOptions

  @Flag(help: "Print JSON instead of text.")
  var json = false

  func run() throws {
    let pool = threading.configure()
    let fp = MachineFingerprint.current(threads: pool.threadCount)
    let peak = FMAPeak.measure(pool: pool)
    let overhead = PoolOverhead.measure(pool: pool)
    if json {
      FileHandle.standardOutput.write(try EnvironmentFacts.json(fingerprint: fp, peak: peak, poolOverhead: overhead))
      return
    }
    print(fp.report(), terminator: "")
    print("kernels:    \(KernelTableListing.native(on: .current).joined(separator: ", "))")
    print("pool dispatch: \(fixed(overhead.hot * 1e6, 2)) µs back to back, \(fixed(overhead.afterIdle * 1e6, 2)) µs after the workers slept (empty loop over \(pool.threadCount) threads, median)")
    print("fma peak:   \(peak.summary) (FP32, \(peak.lanes)-float FMA chains)")
  }
}

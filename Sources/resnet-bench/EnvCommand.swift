import ArgumentParser
import Harness

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
  }
}

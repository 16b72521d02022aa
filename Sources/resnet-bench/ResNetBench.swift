import ArgumentParser
import Foundation

/// The root command. Errors end the process with a one-line message and exit
/// code 2 (usage or input); a failed check exits 1; success 0.
///
/// Commands let the library's errors (DescriptorError, BackendError,
/// PlanError, WeightsFileError, ModelError, CSV.ParseError,
/// Compare.UnusableInput, MemoryBudget.TooLarge) propagate: each describes
/// itself in one line naming the problem, and `main` prints that line and
/// exits 2. A command catches one only to add context.
@main
struct ResNetBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resnet-bench",
    abstract: "Which convolution algorithm is fastest for each ResNet layer on this machine, by how much, and is it still correct.",
    discussion: """
      Exit codes: 0 success; 1 a check failed (disagreement, tolerance, regression);
      2 a usage or input error (bad flag, malformed file), with a one-line message.
      """,
    subcommands: [
      LayersCommand.self, ConvCommand.self, TuneCommand.self, RunCommand.self, SoakCommand.self, CompareCommand.self, ReportCommand.self, ExportWeightsCommand.self, EnvCommand.self,
    ])

  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch let exit as ExitCode {
      Foundation.exit(exit.rawValue)
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        Self.exit(withError: error)  // --help, --version: prints and exits 0
      }
      let message = Self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      FileHandle.standardError.write(Data("resnet-bench: error: \(message)\n".utf8))
      Foundation.exit(2)
    }
  }
}

/// Writes a line to standard error (progress, warnings): stdout carries only data.
func note(_ text: String) {
  // What stdout holds is written first, so a log of both streams keeps
  // their lines whole and in order.
  fflush(stdout)
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

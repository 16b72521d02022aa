import ArgumentParser
import ConvBackends
import ConvCore
import ResNet

/// Which network to build.
struct ModelOptions: ParsableArguments {
  @Option(help: "Model: resnet18, resnet34, resnet50, resnet101 or resnet152.")
  var model: String = "resnet50"

  @Option(help: "v1.5 (stride on the 3×3 of a bottleneck; torchvision, the default) or v1 (stride on the first 1×1; the paper, Keras).")
  var variant: String = ResNetVariant.v1_5.rawValue

  @Option(help: "Images per batch.")
  var batch: Int = 1

  @Option(help: "Input height and width in pixels (at least 32).")
  var size: Int = 224

  @Option(help: "Number of output classes.")
  var classes: Int = 1000

  func validate() throws {
    guard ResNetDepth(modelName: model) != nil else {
      throw ValidationError("unknown model '\(model)'; choose one of \(ResNetDepth.allCases.map(\.modelName).joined(separator: ", "))")
    }
    guard ResNetVariant(rawValue: variant) != nil else {
      throw ValidationError("unknown variant '\(variant)'; choose v1 or v1.5")
    }
    guard batch >= 1 && batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096 (got \(batch))") }
    guard size >= 32 && size <= 4096 else { throw ValidationError("--size must be between 32 and 4096 (got \(size))") }
    guard classes >= 1 && classes <= 1_000_000 else { throw ValidationError("--classes must be between 1 and 1000000 (got \(classes))") }
  }

  func build() throws -> ResNetModel {
    try ResNetModel(depth: ResNetDepth(modelName: model)!, variant: ResNetVariant(rawValue: variant)!,
                    batch: batch, inputSize: size, classes: classes)
  }
}

/// The one thread count that configures the project's pool, OpenBLAS and BLIS alike.
struct ThreadOptions: ParsableArguments {
  @Option(help: "Threads for every backend and library (default: all cores).")
  var threads: Int?

  func validate() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw ValidationError("--threads must be between 1 and 1024 (got \(threads))")
    }
  }

  /// The resolved count, applied to every library; returns the project's pool.
  func configure() -> ThreadPool {
    let n = threads ?? ThreadPool.availableCores
    BackendRegistry.setLibraryThreads(n)
    return ThreadPool.shared(threads: n)
  }
}

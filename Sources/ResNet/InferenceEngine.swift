import ConvBackends
import ConvCore
import Foundation

/// Which backend and configuration computes one layer, and why when it is not
/// the one asked for.
public struct LayerBinding: Sendable {
  public var backend: any ConvolutionBackend
  public var config: BackendConfig
  /// Set when the requested backend cannot compute this layer and another stands in.
  public var fallbackReason: String?
}

/// Runs a ResNet forward pass with each layer on its assigned backend.
///
/// Everything is planned in `init`: weights are packed by each layer's backend,
/// activation slots (see `ResNetModel.steps`) and one workspace as large as the
/// largest layer's are allocated. `run()` allocates nothing.
public final class InferenceEngine: @unchecked Sendable {
  public let model: ResNetModel
  public let pool: ThreadPool
  public let bindings: [LayerBinding]
  private let prepared: [PreparedConvolution]
  /// Per layer, the bytes one run touches at least once (`PreparedConvolution.bytesTouched`).
  public let layerBytesTouched: [Int]
  /// The steps `run` executes: the model's, with residual convolutions
  /// written over their shortcuts where the layer's backend allows it.
  public let program: InferenceProgram
  private let slots: [AlignedBuffer]
  private let workspace: Workspace
  private let probabilityBuffer: AlignedBuffer

  /// - Parameters:
  ///   - weights: one entry per `model.layers`, BatchNorm already folded.
  ///   - assignment: the backend and configuration wanted for each layer, in
  ///     `model.layers` order; a layer that backend cannot compute runs on the
  ///     first of `BackendRegistry.fallbackOrder` that can, recorded in `bindings`.
  ///   - residualsInPlace: let residual convolutions write over their
  ///     shortcuts where the prepared layer allows it (`InferenceProgram`);
  ///     false runs the model's program as built.
  public init(
    model: ResNetModel, weights: [ConvWeights], pool: ThreadPool,
    assignment: [(backend: any ConvolutionBackend, config: BackendConfig)], residualsInPlace: Bool = true
  ) throws {
    guard weights.count == model.layers.count, assignment.count == model.layers.count else {
      throw ModelError("\(model.name): \(weights.count) weight sets and \(assignment.count) assignments for \(model.layers.count) layers")
    }
    self.model = model
    self.pool = pool
    var bindings: [LayerBinding] = []
    var prepared: [PreparedConvolution] = []
    for (i, layer) in model.layers.enumerated() {
      var (backend, config) = assignment[i]
      var reason: String?
      if case .no(let why) = backend.canRun(layer.problem) {
        guard let stand = BackendRegistry.fallback(for: layer.problem) else {
          throw ModelError("layer \(layer.name): \(backend.name) cannot run it (\(why)) and no other backend can")
        }
        reason = "\(backend.name): \(why)"
        backend = stand
        config = .default
      }
      bindings.append(LayerBinding(backend: backend, config: config, fallbackReason: reason))
      do { prepared.append(try backend.prepare(layer.problem, weights: weights[i], config: config)) } catch let e as BackendError {
        throw ModelError("layer \(layer.name): \(e.message)")
      }
    }
    self.bindings = bindings
    self.prepared = prepared
    var residual = [Bool](repeating: false, count: model.layers.count)
    for step in model.steps { if case let .conv(layer, _, _, r, _) = step { residual[layer] = r != nil } }
    layerBytesTouched = prepared.indices.map { prepared[$0].bytesTouched(residual: residual[$0]) }
    let built = InferenceProgram(model)
    program = residualsInPlace ? built.writingResidualsInPlace { prepared[$0].residualInPlace } : built
    slots = program.slotSizes.map { AlignedBuffer(count: $0) }
    workspace = Workspace(byteCount: prepared.map(\.workspaceBytes).max() ?? 0)
    probabilityBuffer = AlignedBuffer(count: model.batch * model.classes)
  }

  /// Every layer on `backend` (with its default configuration), falling back where it cannot.
  public convenience init(model: ResNetModel, weights: [ConvWeights], backend: any ConvolutionBackend, pool: ThreadPool) throws {
    try self.init(model: model, weights: weights, pool: pool,
                  assignment: Array(repeating: (backend, BackendConfig.default), count: model.layers.count))
  }

  /// Input image buffer: NHWC [batch, size, size, 3].
  public var input: UnsafeMutableBufferPointer<Float> {
    .init(start: slots[0].pointer, count: model.batch * model.inputSize * model.inputSize * ResNetModel.inputChannels)
  }

  public func setInput(_ values: [Float]) {
    precondition(values.count == input.count, "input has \(values.count) values, expected \(input.count)")
    _ = input.update(from: values)
  }

  /// Logits of the last run: [batch, classes].
  public var logits: [Float] { Array(UnsafeBufferPointer(start: slots[program.outputSlot].pointer, count: model.batch * model.classes)) }
  /// Softmax of the logits of the last run: [batch, classes].
  public var probabilities: [Float] { probabilityBuffer.array }

  /// One forward pass.
  ///
  /// - Parameters:
  ///   - layerSeconds: when given, receives each convolution layer's time
  ///     (seconds) at its index in `model.layers`; pooling and softmax are not included.
  ///   - layerBusySeconds: when given, receives the thread-seconds the pool's
  ///     threads spent in each convolution layer's tasks (needs
  ///     `pool.accountsBusyTime`; against threads × the layer's time, the
  ///     rest is waiting: at the end of its loops, or for a library's own
  ///     threads, as the im2col backends' BLAS calls do).
  ///   - observe: called after each convolution with its layer index and output (for divergence checks).
  public func run(layerSeconds: UnsafeMutablePointer<Double>? = nil, layerBusySeconds: UnsafeMutablePointer<Double>? = nil,
                  observe: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil) {
    for step in program.steps {
      switch step {
      case let .conv(layer, input, output, residual, relu):
        let start = layerSeconds == nil ? 0 : MonotonicClock.now()
        let busyBefore = layerBusySeconds == nil ? 0 : pool.busySeconds
        prepared[layer].run(
          input: slots[input].pointer, output: slots[output].pointer,
          residual: residual.map { UnsafePointer(slots[$0].pointer) }, relu: relu,
          workspace: workspace.pointer, pool: pool)
        layerSeconds?[layer] = MonotonicClock.now() - start
        layerBusySeconds?[layer] = pool.busySeconds - busyBefore
        observe?(layer, UnsafeBufferPointer(start: slots[output].pointer, count: model.layers[layer].problem.outputCount))
      case let .maxPool(input, output, window):
        Pooling.maxPool(slots[input].pointer, slots[output].pointer, batch: model.batch, window, pool: pool)
      case let .globalAveragePool(input, output, channels, height, width):
        Pooling.globalAverage(slots[input].pointer, slots[output].pointer, batch: model.batch,
                              channels: channels, height: height, width: width)
      }
    }
    Pooling.softmax(slots[program.outputSlot].pointer, probabilityBuffer.pointer, rows: model.batch, columns: model.classes)
  }
}

/// The non-convolution layers, in NHWC.
public enum Pooling {
  /// 3×3 window, stride 2, padding on each side as `window` says (padding never wins the max).
  public static func maxPool(
    _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, _ window: MaxPool, pool: ThreadPool
  ) {
    pool.parallelFor(batch * window.outHeight, MaxPoolRows(window: window, input: input, output: output))
  }

  public static func globalAverage(
    _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
  ) {
    let scale = 1 / Float(height * width)
    for n in 0..<batch {
      let out = output + n * channels
      for c in 0..<channels { out[c] = 0 }
      for i in 0..<(height * width) {
        let src = input + (n * height * width + i) * channels
        for c in 0..<channels { out[c] += src[c] }
      }
      for c in 0..<channels { out[c] *= scale }
    }
  }

  /// Row-wise softmax, computed in Double after subtracting the row maximum.
  public static func softmax(_ logits: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for r in 0..<rows {
      let row = logits + r * columns
      var largest = -Float.infinity
      for c in 0..<columns { largest = max(largest, row[c]) }
      var sum = 0.0
      for c in 0..<columns { sum += exp(Double(row[c] - largest)) }
      for c in 0..<columns { output[r * columns + c] = Float(exp(Double(row[c] - largest)) / sum) }
    }
  }

  /// Indices of the `k` largest values of `row`, largest first (ties: lower index first).
  public static func topK(_ row: ArraySlice<Float>, k: Int) -> [Int] {
    let base = row.startIndex
    return row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k).map { $0 - base }
  }
}

/// One output row (image, y) of the max-pool per task.
private struct MaxPoolRows: ParallelTask {
  let window: MaxPool
  let input: UnsafePointer<Float>
  let output: UnsafeMutablePointer<Float>
  func run(_ row: Int) {
    let (oh, ow, channels, height, width) = (window.outHeight, window.outWidth, window.channels, window.inHeight, window.inWidth)
    let n = row / oh, y = row % oh
    let y0 = y * MaxPool.stride - window.padTop
    let vectorEnd = channels - channels % Lanes.scalarCount
    for x in 0..<ow {
      let out = output + ((n * oh + y) * ow + x) * channels
      let x0 = x * MaxPool.stride - window.padLeft
      let rows = max(0, y0)..<min(height, y0 + MaxPool.window), columns = max(0, x0)..<min(width, x0 + MaxPool.window)
      // Sixteen channels at a time in registers over the whole window, then
      // the rest one by one: the scalar loop alone took about 0.19 ms of the
      // Keras ResNet-50's stem pool (112×112×64) at one thread.
      var c = 0
      while c < vectorEnd {
        var best = Lanes(repeating: -.infinity)
        for iy in rows {
          for ix in columns {
            let src = UnsafeRawPointer(input + ((n * height + iy) * width + ix) * channels + c)
            let v = src.loadUnaligned(as: Lanes.self)
            // A masked select, not `pointwiseMax`: that compiled to a loop
            // over the lanes through the stack, and the network ran 1.16× slower.
            best.replace(with: v, where: best .< v)
          }
        }
        UnsafeMutableRawPointer(out + c).storeBytes(of: best, as: Lanes.self)
        c += Lanes.scalarCount
      }
      while c < channels {
        var best = -Float.infinity
        for iy in rows {
          for ix in columns { best = max(best, input[((n * height + iy) * width + ix) * channels + c]) }
        }
        out[c] = best
        c += 1
      }
    }
  }

  private typealias Lanes = SIMD16<Float>
}

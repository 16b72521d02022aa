/// The steps an `InferenceEngine` runs, over its activation slots: the model's
/// program, with each residual convolution whose backend allows it
/// (`PreparedConvolution.residualInPlace`) writing over its shortcut.
///
/// A block's last convolution reads the shortcut once, element by element, to
/// add it. Writing the output into a second buffer fetches that buffer's
/// lines only to overwrite them (a store to a line not in cache reads it
/// first): on ResNet-50's conv2 stage, 3.2 MB per block. Over the shortcut
/// the lines are already in cache for the residual read.
///
/// The rewrite: at a residual step whose shortcut slot `r` is dead after it
/// (the next step to touch `r` writes it without reading it, or none does),
/// the step writes `r` instead of its output slot `o`, and from that step on
/// the two slots trade names. That is a renaming of the rest of the program,
/// so every later read finds the value it found before; both slots are then
/// as large as the larger of the two.
public struct InferenceProgram: Sendable, Equatable {
  public private(set) var steps: [InferenceStep]
  public private(set) var outputSlot: Int
  public private(set) var slotSizes: [Int]
  /// Layers (indices into `ResNetModel.layers`) that write over their shortcut.
  public private(set) var inPlaceLayers: [Int] = []

  /// The model's program as built.
  public init(_ model: ResNetModel) {
    steps = model.steps
    outputSlot = model.outputSlot
    slotSizes = model.slotSizes
  }

  /// A program given step by step (tests).
  init(steps: [InferenceStep], outputSlot: Int, slotSizes: [Int]) {
    self.steps = steps
    self.outputSlot = outputSlot
    self.slotSizes = slotSizes
  }

  /// Replaces step `i` as it is (tests: a rewrite that breaks the program).
  mutating func replaceStep(_ i: Int, with step: InferenceStep) { steps[i] = step }

  /// The program with every residual step of a layer for which `allows`
  /// holds writing over its shortcut when the shortcut is dead after it.
  /// Slot 0 (the input image, which must survive repeated runs) is never
  /// given up, nor a slot whose value is the program's output.
  public func writingResidualsInPlace(where allows: (Int) -> Bool) -> InferenceProgram {
    var program = self
    for i in program.steps.indices {
      guard case let .conv(layer, input, output, residual?, relu) = program.steps[i],
            allows(layer), residual != output, residual != input, residual != 0,
            program.isDead(residual, after: i) else { continue }
      program.steps[i] = .conv(layer: layer, input: input, output: residual, residual: residual, relu: relu)
      for j in (i + 1)..<program.steps.count { program.steps[j] = program.steps[j].swapping(output, residual) }
      program.outputSlot = program.outputSlot == output ? residual : program.outputSlot == residual ? output : program.outputSlot
      let size = max(program.slotSizes[output], program.slotSizes[residual])
      program.slotSizes[output] = size
      program.slotSizes[residual] = size
      program.inPlaceLayers.append(layer)
    }
    return program
  }

  /// True when the value in `slot` is not read after step `i`: the next step
  /// that touches it writes it without reading it, or no step does.
  func isDead(_ slot: Int, after i: Int) -> Bool {
    for step in steps[(i + 1)...] {
      if step.reads.contains(slot) { return false }
      if step.writes == slot { return true }
    }
    return slot != outputSlot
  }
}

extension InferenceStep {
  /// The slots the step reads.
  var reads: [Int] {
    switch self {
    case let .conv(_, input, _, residual, _): return [input] + (residual.map { [$0] } ?? [])
    case let .maxPool(input, _, _): return [input]
    case let .globalAveragePool(input, _, _, _, _): return [input]
    }
  }

  /// The slot the step writes.
  var writes: Int {
    switch self {
    case let .conv(_, _, output, _, _): return output
    case let .maxPool(_, output, _): return output
    case let .globalAveragePool(_, output, _, _, _): return output
    }
  }

  /// The step with slots `a` and `b` trading names.
  func swapping(_ a: Int, _ b: Int) -> InferenceStep {
    func s(_ slot: Int) -> Int { slot == a ? b : slot == b ? a : slot }
    switch self {
    case let .conv(layer, input, output, residual, relu):
      return .conv(layer: layer, input: s(input), output: s(output), residual: residual.map(s), relu: relu)
    case let .maxPool(input, output, pool):
      return .maxPool(input: s(input), output: s(output), pool: pool)
    case let .globalAveragePool(input, output, channels, height, width):
      return .globalAveragePool(input: s(input), output: s(output), channels: channels, height: height, width: width)
    }
  }
}

import ConvBackends
import ConvCore
import XCTest

/// Shapes and checks shared by every backend's tests.
enum ConvTestSupport {
  /// Every distinct convolution shape of ResNet-50 v1.5 at 224×224, batch 1
  /// (fc included as a 1×1 convolution), as `resnet-bench layers --distinct` lists them.
  static let resnet50Shapes: [String] = [
    "mb1ic3ih224iw224oc64kh7kw7sh2sw2ph3pw3", "mb1ic64ih56iw56oc64kh1kw1sh1sw1ph0pw0",
    "mb1ic64ih56iw56oc64kh3kw3sh1sw1ph1pw1", "mb1ic64ih56iw56oc256kh1kw1sh1sw1ph0pw0",
    "mb1ic256ih56iw56oc64kh1kw1sh1sw1ph0pw0", "mb1ic256ih56iw56oc128kh1kw1sh1sw1ph0pw0",
    "mb1ic128ih56iw56oc128kh3kw3sh2sw2ph1pw1", "mb1ic128ih28iw28oc512kh1kw1sh1sw1ph0pw0",
    "mb1ic256ih56iw56oc512kh1kw1sh2sw2ph0pw0", "mb1ic512ih28iw28oc128kh1kw1sh1sw1ph0pw0",
    "mb1ic128ih28iw28oc128kh3kw3sh1sw1ph1pw1", "mb1ic512ih28iw28oc256kh1kw1sh1sw1ph0pw0",
    "mb1ic256ih28iw28oc256kh3kw3sh2sw2ph1pw1", "mb1ic256ih14iw14oc1024kh1kw1sh1sw1ph0pw0",
    "mb1ic512ih28iw28oc1024kh1kw1sh2sw2ph0pw0", "mb1ic1024ih14iw14oc256kh1kw1sh1sw1ph0pw0",
    "mb1ic256ih14iw14oc256kh3kw3sh1sw1ph1pw1", "mb1ic1024ih14iw14oc512kh1kw1sh1sw1ph0pw0",
    "mb1ic512ih14iw14oc512kh3kw3sh2sw2ph1pw1", "mb1ic512ih7iw7oc2048kh1kw1sh1sw1ph0pw0",
    "mb1ic1024ih14iw14oc2048kh1kw1sh2sw2ph0pw0", "mb1ic2048ih7iw7oc512kh1kw1sh1sw1ph0pw0",
    "mb1ic512ih7iw7oc512kh3kw3sh1sw1ph1pw1", "mb1ic2048ih1iw1oc1000kh1kw1sh1sw1ph0pw0",
  ]

  /// `count` seeded shapes varying every field: channels 1–40 (with 1, 3, 15,
  /// 17, 33 always among them), sizes 1–16, kernels 1/3/5/7, stride 1/2,
  /// padding 0–3 (below the kernel), batch 1–3.
  static func edgeShapes(count: Int, seed: UInt64, kernels: [Int] = [1, 3, 5, 7], strides: [Int] = [1, 2],
                         maxChannels: Int = 40) -> [ConvProblem] {
    var rng = SeededGenerator(seed: seed)
    let specialChannels = [1, 3, 15, 17, 33].filter { $0 <= maxChannels }
    var out: [ConvProblem] = []
    var i = 0
    while out.count < count {
      defer { i += 1 }
      func pick(_ values: [Int]) -> Int { values[Int(rng.next() % UInt64(values.count))] }
      func channels() -> Int { i % 3 == 0 ? pick(specialChannels) : 1 + Int(rng.next() % UInt64(maxChannels)) }
      let kh = pick(kernels), kw = i % 5 == 0 ? pick(kernels) : kh
      let p = ConvProblem(
        batch: 1 + Int(rng.next() % 3), inChannels: channels(),
        inHeight: 1 + Int(rng.next() % 16), inWidth: pick([1, 7, 13]) + Int(rng.next() % 4),
        outChannels: channels(), kernelHeight: kh, kernelWidth: kw,
        strideHeight: pick(strides), strideWidth: pick(strides),
        padHeight: Int(rng.next() % UInt64(min(4, kh))), padWidth: Int(rng.next() % UInt64(min(4, kw))))
      if p.invalidReason == nil { out.append(p) }
    }
    return out
  }

  /// Runs `backend` with `config` on seeded data (bias, residual and ReLU
  /// varied by `variant`) and compares with the Float64 reference.
  /// Returns the error; fails the test when it exceeds the backend's tolerance.
  @discardableResult
  static func check(
    _ backend: any ConvolutionBackend, _ p: ConvProblem, config: BackendConfig = .default, seed: UInt64 = 1,
    threads: Int = 2, file: StaticString = #filePath, line: UInt = #line
  ) throws -> Double {
    let weights = ConvWeights.random(for: p, seed: seed)
    var rng = SeededGenerator(seed: seed &+ 77)
    let input = rng.normals(p.inputCount)
    let withResidual = seed % 2 == 0, relu = seed % 3 != 0
    let residual = withResidual ? rng.normals(p.outputCount) : nil
    let pool = ThreadPool.shared(threads: threads)
    let expected = try ReferenceBackend().prepare(p, weights: weights, config: .default).runOnce(input, residual: residual, relu: relu, pool: pool)
    let got = try backend.prepare(p, weights: weights, config: config).runOnce(input, residual: residual, relu: relu, pool: pool)
    let error = ErrorMetric.maxError(got, reference: expected)
    let tolerance = backend.tolerance(for: p, config: config)
    XCTAssertLessThanOrEqual(error, tolerance, "\(backend.name) [\(config)] on \(p.descriptor) (residual \(withResidual), relu \(relu))",
                             file: file, line: line)
    return error
  }
}

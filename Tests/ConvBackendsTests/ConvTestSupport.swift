import ConvBackends
import ConvCore
import Foundation
import Measurement
import TestSupport
import XCTest

/// Shapes and checks shared by every backend's tests.
enum ConvTestSupport {
  /// Something the test needs is missing (a library): a skip on a
  /// developer's machine, a failure under `CI=true`, where a skipped test
  /// would otherwise be counted as passed.
  static func requireOrSkip(_ what: String) throws {
    if TestEnvironment.isCI { throw TestEnvironment.MissingRequirement(what) }
    throw XCTSkip(what)
  }

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
  /// padding 0–3 (below the kernel), batch 1–3. With `general`, a third of
  /// them are grouped (groups dividing the channels, and equal to them:
  /// depthwise), a quarter dilated (dh, dw 1–3), and others padded up to and
  /// beyond the kernel or given an output size that implies extra bottom or
  /// right padding (benchdnn's `oh`/`ow`).
  static func edgeShapes(count: Int, seed: UInt64, kernels: [Int] = [1, 3, 5, 7], strides: [Int] = [1, 2],
                         maxChannels: Int = 40, general: Bool = false) -> [ConvProblem] {
    var rng = SeededGenerator(seed: seed)
    let specialChannels = [1, 3, 15, 17, 33].filter { $0 <= maxChannels }
    var out: [ConvProblem] = []
    var i = 0
    while out.count < count {
      defer { i += 1 }
      func pick(_ values: [Int]) -> Int { values[Int(rng.next() % UInt64(values.count))] }
      func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
      func channels() -> Int { i % 3 == 0 ? pick(specialChannels) : 1 + below(maxChannels) }
      let kh = pick(kernels), kw = i % 5 == 0 ? pick(kernels) : kh
      var p = ConvProblem(
        batch: 1 + below(3), inChannels: channels(),
        inHeight: 1 + below(16), inWidth: pick([1, 7, 13]) + below(4),
        outChannels: channels(), kernelHeight: kh, kernelWidth: kw,
        strideHeight: pick(strides), strideWidth: pick(strides),
        padHeight: below(min(4, kh)), padWidth: below(min(4, kw)))
      if general {
        switch i % 6 {
        case 0, 3:  // grouped: g divides both channel counts; every other one depthwise
          let g = pick([2, 3, 4])
          (p.inChannels, p.outChannels) = i % 4 == 0 ? (p.inChannels * g, p.inChannels * g) : (g * (1 + below(6)), g * (1 + below(6)))
          p.groups = i % 4 == 0 ? p.inChannels : g
        case 1:  // dilated
          (p.dilationHeight, p.dilationWidth) = (1 + below(3), i % 4 == 1 ? 1 + below(3) : 0)
          p.inHeight += 8
          p.inWidth += 8
        case 2:  // padding up to and beyond the kernel, on each side
          (p.padTop, p.padLeft) = (below(kh + 3), below(kw + 3))
          (p.padBottom, p.padRight) = (below(kh + 3), below(kw + 3))
        case 4:  // an explicit output size implying extra (or less) bottom/right padding
          p.padBottom = p.padTop + pick([-1, 1, 2])
          p.padRight = p.padLeft + pick([1, 2])
        default: break
        }
      }
      if p.invalidReason == nil { out.append(p) }
    }
    return out
  }

  /// Checks `backend` with `config` the one way every part of the project
  /// checks a layer (`LayerTrial`: seeded data, a NaN-filled output, the
  /// epilogue fully on and fully off, against the Float64 reference).
  /// Returns the error; fails the test when it exceeds the backend's tolerance.
  @discardableResult
  static func check(
    _ backend: any ConvolutionBackend, _ p: ConvProblem, config: BackendConfig = .default, seed: UInt64 = 1,
    threads: Int = 2, file: StaticString = #filePath, line: UInt = #line
  ) throws -> Double {
    let trial = LayerTrial(problem: p, seed: seed, pool: .shared(threads: threads))
    let prepared = try backend.prepare(p, weights: trial.weights, config: config)
    let result = try trial.check(prepared, tolerance: backend.tolerance(for: p, config: config))
    XCTAssertTrue(result.passed, "\(backend.name) [\(config)] on \(p.descriptor): \(result.summary)", file: file, line: line)
    return result.error
  }
}

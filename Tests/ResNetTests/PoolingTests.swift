import ConvCore
@testable import ResNet
import XCTest

/// The max-pool against its definition, computed here element by element:
/// every output is the largest input under its 3×3 window (stride 2), the
/// padding never winning. The channel counts cover the 16-channel vector
/// loop, its scalar remainder and a count with no vector part; the values are
/// all negative in one case so a padding value of 0 would win and be caught.
final class PoolingTests: XCTestCase {
  private func reference(_ input: [Float], batch: Int, _ w: MaxPool) -> [Float] {
    var out = [Float](repeating: 0, count: batch * w.outHeight * w.outWidth * w.channels)
    for n in 0..<batch {
      for y in 0..<w.outHeight {
        for x in 0..<w.outWidth {
          for c in 0..<w.channels {
            var best: Float?
            for dy in 0..<MaxPool.window {
              for dx in 0..<MaxPool.window {
                let iy = y * MaxPool.stride - w.padTop + dy, ix = x * MaxPool.stride - w.padLeft + dx
                guard iy >= 0, iy < w.inHeight, ix >= 0, ix < w.inWidth else { continue }
                let v = input[((n * w.inHeight + iy) * w.inWidth + ix) * w.channels + c]
                best = max(best ?? v, v)
              }
            }
            out[((n * w.outHeight + y) * w.outWidth + x) * w.channels + c] = best!
          }
        }
      }
    }
    return out
  }

  func testMaxPoolEqualsItsDefinition() throws {
    var generator = SeededGenerator(seed: 11)
    let cases: [(channels: Int, size: Int, pads: (Int, Int, Int, Int), negative: Bool)] = [
      (64, 12, (1, 1, 1, 1), false),
      (20, 9, (0, 0, 1, 1), true),
      (7, 8, (1, 1, 0, 0), false),
      (48, 7, (1, 1, 1, 1), true),
    ]
    for (channels, size, pads, negative) in cases {
      let window = MaxPool(channels: channels, inHeight: size, inWidth: size + 1,
                           padTop: pads.0, padLeft: pads.1, padBottom: pads.2, padRight: pads.3)
      let batch = 2
      let input = (0..<(batch * size * (size + 1) * channels)).map { _ in
        Float.random(in: negative ? -3 ... -1 : -1...1, using: &generator)
      }
      var output = [Float](repeating: .nan, count: batch * window.outHeight * window.outWidth * channels)
      input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in
          Pooling.maxPool(i.baseAddress!, o.baseAddress!, batch: batch, window, pool: ThreadPool.shared(threads: 2))
        }
      }
      XCTAssertEqual(output, reference(input, batch: batch, window), "\(channels) channels, \(size)×\(size + 1), padding \(pads)")
    }
  }
}

/// A small, fast, seedable generator (SplitMix64, Steele, Lea & Flood 2014), so
/// that weights and inputs are identical on every machine for a given seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform in [low, high).
  public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * nextUnit() }

  /// Standard normal by the Box–Muller transform.
  public mutating func normal() -> Double {
    let u1 = max(nextUnit(), 0x1p-60)
    let u2 = nextUnit()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }

  /// `count` floats drawn from N(mean, std²).
  public mutating func normals(_ count: Int, mean: Double = 0, std: Double = 1) -> [Float] {
    (0..<count).map { _ in Float(mean + std * normal()) }
  }

  /// `count` floats uniform in [low, high).
  public mutating func uniforms(_ count: Int, _ low: Double, _ high: Double) -> [Float] {
    (0..<count).map { _ in Float(uniform(low, high)) }
  }
}

@inline(__always) private func _log(_ x: Double) -> Double {
  #if canImport(Glibc)
  return Glibc.log(x)
  #else
  return Darwin.log(x)
  #endif
}
@inline(__always) private func _cos(_ x: Double) -> Double {
  #if canImport(Glibc)
  return Glibc.cos(x)
  #else
  return Darwin.cos(x)
  #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

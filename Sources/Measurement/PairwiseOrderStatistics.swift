/// Order statistics of the two sets the Hodges–Lehmann estimates are built
/// on — all pairwise differences yⱼ − xᵢ of two samples, or all Walsh
/// averages (dᵢ + dⱼ)/2, i ≤ j, of one — without listing them. A results file
/// may hold 100,000 repetitions a side; their 10¹⁰ differences do not fit in
/// memory, but how many of them lie at or below a value can be counted in
/// one pass over the sorted samples, and the k-th smallest found by
/// bisection over that count (the approach of Johnson & Mizoguchi 1978,
/// "Selecting the Kth element in X + Y and X1 + X2 + … + Xm", with a plain
/// bisection on the values' bit patterns instead of their weighted medians).
/// The comparisons are the same floating-point expressions a listed set
/// would hold, so the k-th element is exactly the one sorting would give.
struct PairwiseOrderStatistics {
  enum Kind {
    /// `y[j] - x[i]` for all i, j; both sorted ascending.
    case differences(x: [Double], y: [Double])
    /// `(d[i] + d[j]) / 2` for i ≤ j; sorted ascending.
    case walsh([Double])
  }

  let kind: Kind

  init(differencesOf y: [Double], minus x: [Double]) { kind = .differences(x: x.sorted(), y: y.sorted()) }
  init(walshAveragesOf d: [Double]) { kind = .walsh(d.sorted()) }

  /// Members of the set.
  var count: Int {
    switch kind {
    case let .differences(x, y): return x.count * y.count
    case let .walsh(d): return d.count * (d.count + 1) / 2
    }
  }

  /// How many members are at most `t`, in time linear in the samples.
  func countAtMost(_ t: Double) -> Int {
    switch kind {
    case let .differences(x, y):
      // As x[i] grows, the run of y[j] with y[j] − x[i] ≤ t only lengthens.
      var j = 0, total = 0
      for xi in x {
        while j < y.count && y[j] - xi <= t { j += 1 }
        total += j
      }
      return total
    case let .walsh(d):
      // J(i) = #{j : (d[i] + d[j]) / 2 ≤ t} shrinks as i grows; pairs need j ≥ i.
      var j = d.count, total = 0
      for i in d.indices {
        while j > 0 && (d[i] + d[j - 1]) / 2 > t { j -= 1 }
        if j <= i { break }
        total += j - i
      }
      return total
    }
  }

  /// The smallest and largest member.
  private var range: (Double, Double) {
    switch kind {
    case let .differences(x, y): return (y[0] - x[x.count - 1], y[y.count - 1] - x[0])
    case let .walsh(d): return (d[0], d[d.count - 1])
    }
  }

  /// The `k`-th smallest member (1-based, 1 ≤ k ≤ count); the set must be non-empty and finite.
  func kth(_ k: Int) -> Double {
    let (lowest, highest) = range
    // Invariant: countAtMost(value(lo)) < k ≤ countAtMost(value(hi)).
    var lo = Self.key(lowest) - 1, hi = Self.key(highest)
    while lo + 1 < hi {
      let mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  // ⌊(lo + hi) / 2⌋ without overflow
      if countAtMost(Self.value(mid)) >= k { hi = mid } else { lo = mid }
    }
    return Self.value(hi)
  }

  /// The median, as `TimingSummary.quantile(_, 0.5)` of the listed set gives it.
  var median: Double {
    let n = count
    if n % 2 == 1 { return kth(n / 2 + 1) }
    let a = kth(n / 2), b = kth(n / 2 + 1)
    return a + (b - a) * 0.5
  }

  /// An order-preserving map of finite doubles onto integers (adjacent
  /// doubles to adjacent integers), and its inverse.
  static func key(_ x: Double) -> Int64 {
    let bits = Int64(bitPattern: x.bitPattern)
    return bits >= 0 ? bits : Int64.min - bits
  }

  static func value(_ key: Int64) -> Double {
    Double(bitPattern: UInt64(bitPattern: key >= 0 ? key : Int64.min - key))
  }
}

import ConvCore
import Foundation
import Measurement
import ResNet

/// The text tables of `run`: the summary per candidate and the per-layer breakdown.
public enum RunTables {
  public static func summary(_ r: NetworkRunResult) -> String {
    let net = r.model
    let gflop = Double(net.macs) * 2 / 1e9
    var table = TextTable([
      .init("candidate", .left), .init("median ms", .right), .init("p10 ms", .right), .init("p90 ms", .right),
      .init("img/s", .right), .init("GFLOP/s", .right), .init("% peak", .right), .init("CV", .right), .init("", .left),
      .init("max error", .right), .init("top-5", .left), .init("check", .left),
    ])
    for (i, t) in r.timings.enumerated() {
      let s = t.summary
      let a = r.agreements[i]
      table.add([
        t.name, fixed(s.median * 1e3, 2), fixed(s.p10 * 1e3, 2), fixed(s.p90 * 1e3, 2),
        fixed(Double(net.batch) / s.median, 1), fixed(gflop / s.median, 1), fixed(100 * gflop / s.median / r.peak.allThreads, 1),
        fixed(s.coefficientOfVariation * 100, 1) + "%", s.isNoisy ? "noisy" : "",
        a.map { scientific($0.maxError) } ?? "-", a.map { $0.top5Equal ? "same" : "DIFFERENT" } ?? "-",
        a.map { $0.passed ? "ok" : "FAIL" } ?? "skipped",
      ])
      if let path = r.candidates[i].planPath, t.name != "plan" || r.candidates.filter({ $0.planPath != nil }).count > 1 {
        table.note("\(t.name) = \(path)")
      }
    }
    var out = table.render()
    out += pairedRatios(r)
    out += "\(r.timings.map(\.samples.count).max() ?? 0) interleaved rounds (order seed \(r.record.seed)); FMA peak \(r.peak.summary) (measured now); fingerprint \(r.fingerprint.id)\n"
    out += "machine: \(r.load.summary)\n"
    if let first = r.timings.first {
      out += "top-5 (\(first.name), image 0): " + Pooling.topK(first.probabilities[0..<net.classes], k: 5)
        .map { "class \($0) p=\(fixed(Double(first.probabilities[$0]), 4))" }.joined(separator: ", ") + "\n"
    }
    return out
  }

  /// With several candidates, each one's time relative to a reference (the
  /// first plan when there are plans, else the first candidate): the
  /// Hodges–Lehmann ratio of its rounds to the reference's, paired round by
  /// round (the rounds are interleaved, so round i of every candidate saw the
  /// same state of the machine), with a 95% interval for each. Medians of
  /// separate candidates differ by their noise; this is the figure to judge
  /// "are these two plans equally fast" by.
  public static func pairedRatios(_ r: NetworkRunResult) -> String {
    guard r.timings.count > 1 else { return "" }
    let reference = r.candidates.firstIndex { $0.planPath != nil } ?? 0
    let base = r.timings[reference].samples
    guard base.count >= 2 else { return "" }
    let parts = r.timings.indices.filter { $0 != reference }.map { i -> String in
      let e = RatioEstimate.paired(base: base, candidate: r.timings[i].samples, confidence: 0.95)
      let interval = e.isBounded ? "[\(fixed(e.low, 3))–\(fixed(e.high, 3))]" : "[unbounded]"
      return "\(r.timings[i].name) \(fixed(e.ratio, 3)) \(interval)"
    }
    return "÷ \(r.timings[reference].name), round by round (Hodges–Lehmann, 95% interval each): " + parts.joined(separator: ", ") + "\n"
  }

  /// Per layer: every candidate's median (ms), the fastest, and the fastest's
  /// share of its own total and % of peak. With isolated times: one table
  /// per candidate instead, each layer's in-network and alone % of peak and
  /// the bytes it touches.
  public static func layers(_ r: NetworkRunResult) -> String {
    let net = r.model
    let medians = r.timings.map { t in t.layerSamples.map { TimingSummary($0).median * 1e3 } }
    let totals = medians.map { $0.reduce(0, +) }
    func percent(_ l: Int, _ ms: Double) -> Double { 100 * Double(net.layers[l].problem.flops) / (ms / 1e3) / 1e9 / r.peak.allThreads }
    if let isolated = r.isolated {
      var out = ""
      for (c, t) in r.timings.enumerated() {
        let engine = r.candidates[c].engine
        var table = TextTable([
          .init("layer", .left), .init("backend", .left), .init("ms", .right), .init("% peak", .right),
          .init("alone ms", .right), .init("alone % peak", .right), .init("lost", .right), .init("MB touched", .right),
        ])
        var aloneTotal = 0.0, bytes = 0
        for l in net.layers.indices {
          let alone = isolated[c][l] * 1e3
          aloneTotal += alone
          bytes += engine.layerBytesTouched[l]
          table.add([net.layers[l].name, engine.bindings[l].backend.name, fixed(medians[c][l], 3), fixed(percent(l, medians[c][l]), 1),
                     fixed(alone, 3), fixed(percent(l, alone), 1), fixed(100 * (medians[c][l] - alone) / max(medians[c][l], 1e-12), 1) + "%",
                     fixed(Double(engine.layerBytesTouched[l]) / 1e6, 2)])
        }
        table.add(["total", "", fixed(totals[c], 2), "", fixed(aloneTotal, 2), "",
                   fixed(100 * (totals[c] - aloneTotal) / max(totals[c], 1e-12), 1) + "%", fixed(Double(bytes) / 1e6, 1)])
        out += "\(t.name): each layer inside the network and alone (same backend and configuration, data hot)\n" + table.render()
      }
      return out + threadUse(r)
    }
    var columns: [TextTable.Column] = [.init("layer", .left)]
    columns += r.timings.map { .init($0.name + " ms", .right) }
    columns += [.init("fastest", .left), .init("share", .right), .init("% peak", .right)]
    var table = TextTable(columns)
    for (l, layer) in net.layers.enumerated() {
      let times = medians.map { $0[l] }
      let best = times.indices.min { times[$0] < times[$1] } ?? 0
      table.add([layer.name] + times.map { fixed($0, 3) }
                + [r.timings[best].name, fixed(100 * times[best] / max(totals[best], 1e-12), 1) + "%", fixed(percent(l, times[best]), 1)])
    }
    table.add(["total"] + totals.map { fixed($0, 2) } + ["", "", ""])
    return table.render() + threadUse(r)
  }

  /// With several threads: per candidate, the share of threads × layer time
  /// its threads spent in tasks over its convolution layers (medians per
  /// layer), and the layer that waited most. The rest is time a thread spent
  /// waiting for the others at the end of a layer's loops (or in its serial
  /// parts). Layers a BLAS library runs on threads of its own (the im2col
  /// backends) are left out: the pool is parked through them. A time per
  /// thread well above the one-thread run's layer total instead means each
  /// thread ran slower beside the other.
  public static func threadUse(_ r: NetworkRunResult) -> String {
    guard let threads = r.candidates.first?.engine.pool.threadCount, threads > 1 else { return "" }
    var lines = ""
    for (c, t) in r.timings.enumerated() where !t.layerBusySamples.isEmpty {
      let bindings = r.candidates[c].engine.bindings
      let own = t.layerSamples.indices.filter { bindings[$0].backend.libraryDetails.isEmpty }
      guard !own.isEmpty else { continue }
      var wall = 0.0, busy = 0.0, worst = (index: own[0], idle: -Double.infinity)
      for l in own {
        let w = TimingSummary(t.layerSamples[l]).median, b = TimingSummary(t.layerBusySamples[l]).median
        wall += w
        busy += b
        let idle = 1 - b / max(Double(threads) * w, 1e-12)
        if idle > worst.idle { worst = (l, idle) }
      }
      let share = busy / max(Double(threads) * wall, 1e-12)
      let left = t.layerSamples.count - own.count
      lines += "\(t.name): threads busy \(fixed(100 * share, 1))% of \(threads) × \(fixed(wall * 1e3, 2)) ms in "
        + (left == 0 ? "the convolution layers" : "its \(own.count) layers on the pool (\(left) on a BLAS library's threads left out)")
        + " (\(fixed(busy * 1e3, 2)) thread-ms in tasks); most waiting: \(r.model.layers[worst.index].name) \(fixed(100 * worst.idle, 1))%\n"
    }
    return lines
  }
}

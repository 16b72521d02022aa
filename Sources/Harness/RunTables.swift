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
    out += "\(r.timings.first?.samples.count ?? 0) interleaved rounds (order seed \(r.record.seed)); FMA peak \(r.peak.summary) (measured now); fingerprint \(r.fingerprint.id)\n"
    out += "machine: \(r.load.summary)\n"
    if let first = r.timings.first {
      out += "top-5 (\(first.name), image 0): " + Pooling.topK(first.probabilities[0..<net.classes], k: 5)
        .map { "class \($0) p=\(fixed(Double(first.probabilities[$0]), 4))" }.joined(separator: ", ") + "\n"
    }
    return out
  }

  /// Per layer: every candidate's median (ms), the fastest, and the fastest's
  /// share of its own total and % of peak.
  public static func layers(_ r: NetworkRunResult) -> String {
    let net = r.model
    let medians = r.timings.map { t in t.layerSamples.map { TimingSummary($0).median * 1e3 } }
    let totals = medians.map { $0.reduce(0, +) }
    var columns: [TextTable.Column] = [.init("layer", .left)]
    columns += r.timings.map { .init($0.name + " ms", .right) }
    columns += [.init("fastest", .left), .init("share", .right), .init("% peak", .right)]
    var table = TextTable(columns)
    for (l, layer) in net.layers.enumerated() {
      let times = medians.map { $0[l] }
      let best = times.indices.min { times[$0] < times[$1] } ?? 0
      let rate = Double(layer.problem.flops) / (times[best] / 1e3) / 1e9
      table.add([layer.name] + times.map { fixed($0, 3) }
                + [r.timings[best].name, fixed(100 * times[best] / max(totals[best], 1e-12), 1) + "%", fixed(100 * rate / r.peak.allThreads, 1)])
    }
    table.add(["total"] + totals.map { fixed($0, 2) } + ["", "", ""])
    return table.render()
  }
}

import ConvCore
import Foundation

/// One self-contained HTML page (inline SVG, no scripts, no external files)
/// from a `run --csv` file: end-to-end latency per candidate, per-layer time
/// by candidate (which backend wins where), and % of the FMA peak per layer.
public enum HTMLReport {
  static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]

  public static func render(_ all: [BenchmarkRecord], source: String) throws -> String {
    guard let lastRun = all.last?["run_id"] else { throw CSV.ParseError(message: "\(source): no rows") }
    let records = all.filter { $0["run_id"] == lastRun }
    let network = records.filter { $0["scope"] == "network" }
    let layers = records.filter { $0["scope"] == "layer" }
    guard let first = network.first ?? records.first else { throw CSV.ParseError(message: "\(source): no rows") }
    // Every number drawn must be finite and in range: the charts' scales come from them.
    for (i, r) in records.enumerated() {
      for column in ["median_ms", "p10_ms", "p90_ms", "peak_pct"] where !r[column].isEmpty {
        guard let v = Double(r[column]), v.isFinite, v >= 0, v <= maxPlotted else {
          throw CSV.ParseError(message: "\(source): row \(i + 1) of run \(printable(lastRun)) has \(column) '\(printable(r[column]))', not a number between 0 and \(Int(maxPlotted))")
        }
      }
    }
    let title = "\(first["model"]) \(first["variant"]), batch \(first["batch"]), \(first["input_size"])×\(first["input_size"]), \(first["threads"]) threads"
    var body = "<h1>resnet-bench: \(escape(title))</h1>\n"
    body += "<p class=meta>run \(escape(lastRun)) at \(escape(first["timestamp"])), commit \(escape(first["git_commit"].isEmpty ? "unknown" : first["git_commit"])), machine fingerprint \(escape(first["fingerprint"])). Source: \(escape(source)).</p>\n"
    body += "<h2>End-to-end latency</h2>\n<p>Median per inference; the whisker spans p10–p90. Shorter is better.</p>\n"
    body += latencyChart(network)
    body += "<h2>Per-layer time by backend</h2>\n"
    if layers.isEmpty {
      body += "<p>This file has no per-layer rows: produce it with <code>resnet-bench run --layers --csv FILE</code>.</p>\n"
    } else {
      body += "<p>Median milliseconds per layer. The fastest candidate of each layer is outlined; colour shows how many times slower than that fastest each cell is.</p>\n"
      body += layerHeatmap(layers)
      body += "<h2>% of the FMA peak per layer</h2>\n<p>Direct-convolution FLOPs ÷ time ÷ the measured all-threads FP32 FMA peak. Winograd can exceed 100%: it does fewer multiplications than it is credited with.</p>\n"
      body += peakChart(layers)
    }
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
      <style>
      body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
      h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; } .meta { color: #666; font-size: 12px; }
      svg text { font-family: sans-serif; font-size: 11px; fill: #222; }
      </style></head><body>
      \(body)</body></html>

      """
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  static func number(_ r: BenchmarkRecord, _ column: String) -> Double { Double(r[column]) ?? 0 }

  /// The largest time (ms) or percentage a chart draws; beyond it a value is an input error.
  static let maxPlotted = 1e9

  static func latencyChart(_ rows: [BenchmarkRecord]) -> String {
    // Colours follow the file's candidate order, as in the per-layer chart's legend.
    let colorIndex = Dictionary(rows.enumerated().map { ($1["candidate"], $0) }, uniquingKeysWith: { first, _ in first })
    let sorted = rows.sorted { number($0, "median_ms") < number($1, "median_ms") }
    let labelWidth = 140.0, barArea = 700.0, rowHeight = 26.0
    let maxMs = max(sorted.map { number($0, "p90_ms") }.max() ?? 1, 1e-9)
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + barArea + 120))\" height=\"\(Int(rowHeight * Double(sorted.count) + 30))\">\n"
    for (i, r) in sorted.enumerated() {
      let y = Double(i) * rowHeight + 10
      let w = number(r, "median_ms") / maxMs * barArea
      let lo = labelWidth + number(r, "p10_ms") / maxMs * barArea, hi = labelWidth + number(r, "p90_ms") / maxMs * barArea
      svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(escape(r["candidate"]))</text>\n"
      svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(max(w, 1))\" height=\"\(rowHeight - 8)\" fill=\"\(palette[(colorIndex[r["candidate"]] ?? i) % palette.count])\"/>\n"
      svg += "<line x1=\"\(lo)\" x2=\"\(hi)\" y1=\"\(y + rowHeight / 2)\" y2=\"\(y + rowHeight / 2)\" stroke=\"#000\"/>\n"
      let agreement = r["agreement"] == "fail" ? " DISAGREES" : ""
      svg += "<text x=\"\(max(labelWidth + w, hi) + 6)\" y=\"\(y + 15)\">\(fixed(number(r, "median_ms"), 2)) ms\(agreement)</text>\n"
    }
    return svg + "</svg>\n"
  }

  /// Candidates in first-seen order and layers in network order.
  static func grid(_ rows: [BenchmarkRecord]) -> (candidates: [String], layers: [String], cell: [String: BenchmarkRecord]) {
    var candidates: [String] = [], layers: [String] = []
    var seenCandidates = Set<String>(), seenLayers = Set<String>()
    var cell: [String: BenchmarkRecord] = [:]
    for r in rows {
      if seenCandidates.insert(r["candidate"]).inserted { candidates.append(r["candidate"]) }
      if seenLayers.insert(r["layer"]).inserted { layers.append(r["layer"]) }
      cell[r["candidate"] + "|" + r["layer"]] = r
    }
    return (candidates, layers, cell)
  }

  static func layerHeatmap(_ rows: [BenchmarkRecord]) -> String {
    let (candidates, layers, cell) = grid(rows)
    let labelWidth = 170.0, cellWidth = 110.0, cellHeight = 18.0, top = 40.0
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + cellWidth * Double(candidates.count) + 20))\" height=\"\(Int(top + cellHeight * Double(layers.count) + 10))\">\n"
    for (c, name) in candidates.enumerated() {
      svg += "<text x=\"\(labelWidth + cellWidth * (Double(c) + 0.5))\" y=\"\(top - 10)\" text-anchor=\"middle\">\(escape(name))</text>\n"
    }
    for (l, layer) in layers.enumerated() {
      let y = top + Double(l) * cellHeight
      svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 13)\" text-anchor=\"end\">\(escape(layer))</text>\n"
      let times = candidates.map { cell[$0 + "|" + layer].map { number($0, "median_ms") } }
      let best = times.compactMap { $0 }.filter { $0 > 0 }.min() ?? 1
      for (c, time) in times.enumerated() {
        let x = labelWidth + Double(c) * cellWidth
        guard let time else { continue }
        let ratio = time / best
        // Green at the fastest, through yellow, to red at 4× slower or worse.
        let t = min(1, log2(max(ratio, 1)) / 2)
        let red = Int(80 + 175 * t), green = Int(200 - 120 * t)
        let winner = ratio <= 1.0000001
        svg += "<rect x=\"\(x + 1)\" y=\"\(y + 1)\" width=\"\(cellWidth - 2)\" height=\"\(cellHeight - 2)\" fill=\"rgb(\(red),\(green),90)\"\(winner ? " stroke=\"#000\" stroke-width=\"2\"" : "")/>\n"
        let backend = cell[candidates[c] + "|" + layer]!["layer_backend"]
        let via = backend != candidates[c] && !backend.isEmpty ? " (\(backend))" : ""
        svg += "<text x=\"\(x + cellWidth / 2)\" y=\"\(y + 13)\" text-anchor=\"middle\">\(fixed(time, 3))\(escape(via))</text>\n"
      }
    }
    return svg + "</svg>\n"
  }

  static func peakChart(_ rows: [BenchmarkRecord]) -> String {
    let (candidates, layers, cell) = grid(rows)
    let left = 50.0, top = 20.0, width = 1000.0, height = 300.0, bottom = 110.0
    let maxPct = max(100, (rows.map { number($0, "peak_pct") }.max() ?? 100) * 1.05)
    let step = layers.count > 1 ? width / Double(layers.count - 1) : width
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 160))\" height=\"\(Int(top + height + bottom))\">\n"
    // Gridlines every 25% up to 300%, then coarser: at most a dozen whatever the data.
    let gridStep = max(25, (maxPct / 12 / 25).rounded(.up) * 25)
    for pct in stride(from: 0.0, through: maxPct, by: gridStep) {
      let y = top + height - pct / maxPct * height
      svg += "<line x1=\"\(left)\" x2=\"\(left + width)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"\(pct == 100 ? "#900" : "#ddd")\"/>\n"
      svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int(pct))%</text>\n"
    }
    for (l, layer) in layers.enumerated() where layers.count <= 60 || l % 2 == 0 {
      let x = left + Double(l) * step
      svg += "<text transform=\"translate(\(x),\(top + height + 8)) rotate(60)\" font-size=\"9\">\(escape(layer))</text>\n"
    }
    for (c, name) in candidates.enumerated() {
      let color = palette[c % palette.count]
      let points = layers.enumerated().compactMap { l, layer -> String? in
        guard let r = cell[name + "|" + layer] else { return nil }
        return "\(left + Double(l) * step),\(top + height - number(r, "peak_pct") / maxPct * height)"
      }
      svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
      svg += "<rect x=\"\(left + width + 15)\" y=\"\(top + Double(c) * 18)\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
      svg += "<text x=\"\(left + width + 32)\" y=\"\(top + Double(c) * 18 + 10)\">\(escape(name))</text>\n"
    }
    return svg + "</svg>\n"
  }
}

import Foundation
import TestSupport
import XCTest

/// Keras weights as users bring them: an HDF5 file written by h5py in the
/// keras.applications layout loads through `run --weights` and gives
/// bit-identical logits to the same weights in safetensors; each malformed
/// file is a one-line error naming the layer, tensor or problem, exit 2.
final class KerasWeightsCLITests: XCTestCase {
  /// Converts our Keras-layout safetensors into keras.applications' HDF5
  /// layout with h5py (fixed-length byte-string attributes, datasets at
  /// `/<layer>/<layer>/<weight>:0`), optionally broken in one way.
  private static let converter = #"""
  import json, struct, sys
  import numpy as np, h5py
  src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3]
  data = open(src, "rb").read()
  (n,) = struct.unpack("<Q", data[:8])
  header = json.loads(data[8:8 + n]); header.pop("__metadata__", None)
  tensors = {}
  for name, info in header.items():
      a, b = info["data_offsets"]
      tensors[name] = np.frombuffer(data, "<f4", (b - a) // 4, 8 + n + a).reshape(info["shape"])
  layers = []
  for name in sorted(tensors, key=lambda k: list(header).index(k)):
      layer = name.split("/")[0]
      if layer not in layers: layers.append(layer)
  if mode == "missing-layer": layers.remove("conv3_block2_2_bn")
  listed = layers + (["conv1_conv"] if mode == "layer-twice" else [])
  with h5py.File(dst, "w") as f:
      f.attrs["layer_names"] = np.array([l.encode() for l in listed])
      f.attrs["backend"] = b"tensorflow"; f.attrs["keras_version"] = b"2.15.0"
      for layer in layers:
          g = f.create_group(layer)
          names = [k for k in tensors if k.split("/")[0] == layer]
          g.attrs["weight_names"] = np.array([(k + ":0").encode() for k in names])
          for k in names:
              value = tensors[k]
              if mode == "wrong-shape" and k == "conv2_block1_1_conv/kernel": value = value.reshape(value.shape[::-1])
              if mode == "float64" and k == "conv1_bn/gamma": value = value.astype(np.float64)
              if mode == "unwritten" and k == "conv1_conv/kernel":
                  g.create_dataset(k + ":0", shape=value.shape, dtype="<f4")  # declared, never written
                  continue
              g.create_dataset(k + ":0", data=value)
  """#

  private func convert(_ source: URL, to destination: URL, mode: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", Self.converter, source.path, destination.path, mode]
    let err = Pipe()
    process.standardError = err
    try process.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let what = "python3 with h5py and numpy (\(message.split(separator: "\n").last ?? ""))"
      if TestEnvironment.isCI { throw TestEnvironment.MissingRequirement(what) }
      throw XCTSkip(what)
    }
  }

  func testH5pyFileGivesTheLogitsOfTheSameWeightsInSafetensors() throws {
    let dir = try CommandLine.temporaryDirectory()
    let safetensors = dir.appendingPathComponent("w.safetensors"), h5 = dir.appendingPathComponent("w.h5")
    let model = ["--model", "resnet50", "--variant", "keras", "--size", "32", "--classes", "10"]
    let export = try CommandLine.run(["export-weights"] + model + ["--seed", "7", safetensors.path])
    XCTAssertEqual(export.status, 0, export.stderr)
    try convert(safetensors, to: h5, mode: "good")
    var logits: [Data] = []
    for weights in [h5, safetensors] {
      let out = dir.appendingPathComponent(weights.lastPathComponent + ".npy")
      let r = try CommandLine.run(["run"] + model + ["--backend", "tiled-simd", "--repetitions", "1", "--weights", weights.path,
                                                     "--dump-logits", out.path])
      XCTAssertEqual(r.status, 0, r.stderr)
      logits.append(try Data(contentsOf: out))
    }
    XCTAssertEqual(logits[0], logits[1], "the HDF5 file and the safetensors file hold the same network")

    let broken: [(String, String)] = [
      ("missing-layer", "missing tensor 'conv3_block2_2_bn/gamma'"),
      ("wrong-shape", "'conv2_block1_1_conv/kernel' has shape [64, 64, 1, 1], expected [1, 1, 64, 64]"),
      ("float64", "conv1_bn/gamma"),
      ("layer-twice", "layer 'conv1_conv' is listed twice in layer_names"),
      ("unwritten", "dataset '/conv1_conv/conv1_conv/kernel:0' of shape [7, 7, 3, 64] has no values stored in the file"),
    ]
    for (mode, expected) in broken {
      let file = dir.appendingPathComponent("\(mode).h5")
      try convert(safetensors, to: file, mode: mode)
      let r = try CommandLine.run(["run"] + model + ["--backend", "naive", "--repetitions", "1", "--weights", file.path])
      XCTAssertEqual(r.status, 2, "\(mode): \(r.stderr)")
      XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(mode): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains(expected) && r.stderr.contains(file.path), "\(mode): \(r.stderr)")
    }
    let notHDF5 = dir.appendingPathComponent("text.h5")
    try Data("these are not weights".utf8).write(to: notHDF5)
    let r = try CommandLine.run(["run"] + model + ["--backend", "naive", "--repetitions", "1", "--weights", notHDF5.path])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("not an HDF5 file"), r.stderr)
    // A Keras file for a torchvision-layout run says which variant it needs.
    let v15 = try CommandLine.run(["run", "--model", "resnet50", "--size", "32", "--classes", "10", "--backend", "naive",
                                   "--repetitions", "1", "--weights", h5.path])
    XCTAssertEqual(v15.status, 2)
    XCTAssertTrue(v15.stderr.contains("needs a keras variant"), v15.stderr)
  }
}

import ConvCore
@testable import Harness
import Foundation
import XCTest

final class BenchdnnBatchFileTests: XCTestCase {
  /// A reader over named texts, standing in for the file system.
  private func files(_ texts: [String: String]) -> (String) throws -> String {
    return { path in
      guard let text = texts[path] else { throw CocoaError(.fileNoSuchFile) }
      return text
    }
  }

  private func parse(_ text: String, source: String = "t", _ others: [String: String] = [:]) throws -> BenchdnnBatch {
    try BenchdnnBatch.parse(text, source: source, read: files(others))
  }

  /// The message `text` is refused with, or a failure when it is accepted.
  private func refusal(_ text: String, source: String = "t", _ others: [String: String] = [:],
                       file: StaticString = #filePath, line: UInt = #line) -> String? {
    do {
      _ = try parse(text, source: source, others)
      XCTFail("accepted: \(text)", file: file, line: line)
      return nil
    } catch let error as BatchFileError {
      return error.message
    } catch {
      XCTFail("not a BatchFileError: \(error)", file: file, line: line)
      return nil
    }
  }

  /// ResNet-50 v1 at batch 1 in the style of a shapes file: each distinct
  /// shape once, `*N` for how many times it occurs, repeats commented out.
  private let resnet50Sample = """
    # ResNet-50 v1, 224x224, batch 1: distinct shapes; *N = occurrences in the network
    mb1ic3ih224oc64oh112kh7sh2ph3n"rn50:conv1"

    mb1_ic64ih56_oc64oh56_kh1ph0n"rn50:res2.reduce_first"     # block 1 only
    mb1_ic64ih56_oc64oh56_kh3ph1n"rn50:res2.conv3x3*3"
    mb1_ic64ih56_oc256oh56_kh1ph0n"rn50:res2.expand*4"         # 3 expands + the shortcut
    mb1_ic256ih56_oc64oh56_kh1ph0n"rn50:res2.reduce*2"
    # mb1_ic64ih56_oc64oh56_kh3ph1n"rn50:res2b.conv3x3"        # counted in res2.conv3x3*3
    mb1ic256ih56oc128oh28kh1sh2ph0n"rn50:res3.reduce_first"
    mb1ic128ih28oc128oh28kh3ph1n"rn50:res3.conv3x3*4"
    mb1ic2048ih7oc512oh7kh1ph0n"rn50:res5.reduce*2"
    """

  func testResNet50StyleShapesFile() throws {
    let batch = try parse(resnet50Sample, source: "inputs/shapes_rn50")
    XCTAssertEqual(batch.problems.map(\.line), [2, 4, 5, 6, 7, 9, 10, 11])
    XCTAssertEqual(batch.problems.map(\.repeatCount), [1, 1, 3, 4, 2, 1, 4, 2])
    XCTAssertEqual(batch.problems[2], BenchdnnProblem(
      descriptor: "mb1_ic64ih56_oc64oh56_kh3ph1n\"rn50:res2.conv3x3*3\"", minibatch: nil,
      file: "inputs/shapes_rn50", line: 5, repeatCount: 3, isThreeDimensional: false))
    XCTAssertTrue(batch.problems.allSatisfy { !$0.isThreeDimensional && $0.minibatch == nil })
    XCTAssertEqual(batch.ignoredOptions, [])
    // Every descriptor, `_` and `*N` included, is one the project's parser reads.
    let conv3x3 = try ConvProblem(descriptor: batch.problems[2].descriptor)
    XCTAssertEqual([conv3x3.batch, conv3x3.inChannels, conv3x3.inHeight, conv3x3.kernelHeight, conv3x3.padTop], [1, 64, 56, 3, 1])
    XCTAssertEqual(conv3x3.name, "rn50:res2.conv3x3*3")
    for problem in batch.problems { XCTAssertNoThrow(try ConvProblem(descriptor: problem.descriptor), problem.descriptor) }
  }

  func testCommentsBlankLinesAndSeveralWordsPerLine() throws {
    let text = "# a whole-line comment\n"
      + "\n"
      + "   \t\n"
      + "--mb=2 ic3ih5oc3kh3n\"a\"  ic4ih5oc4kh3n\"b\" # a trailing comment ic9ih9oc9kh1n\"hidden\"\n"
      + "ic3ih5oc3kh3n\"has#hash\"\n"  // `#` inside a word is text
      + "  #indented comment\r\n"
      + "ic3ih5oc3kh3n\"crlf\"\r\n"
      + "ic3ih5oc3kh3n\"a #split\"\n"  // a name cannot hold a space: `#split"` starts a comment
      + "#"
    let batch = try parse(text)
    XCTAssertEqual(batch.problems.map(\.descriptor),
                   ["ic3ih5oc3kh3n\"a\"", "ic4ih5oc4kh3n\"b\"", "ic3ih5oc3kh3n\"has#hash\"", "ic3ih5oc3kh3n\"crlf\"", "ic3ih5oc3kh3n\"a"])
    XCTAssertEqual(batch.problems.map(\.line), [4, 4, 5, 7, 8])
    XCTAssertEqual(batch.problems.map(\.minibatch), [2, 2, 2, 2, 2])
    XCTAssertEqual(try ConvProblem(descriptor: batch.problems[2].descriptor).name, "has#hash")
  }

  func testLineContinuationJoinsWords() throws {
    // As test_conv_ci writes long option lists: a lone `\` or one ending a word.
    let text = "--stag=any, \\\n      axb\nic3ih5\\\n  oc3kh3n\"joined\"\nic3ih5oc3kh3n\"next\"\n"
    let batch = try parse(text)
    XCTAssertEqual(batch.problems.map(\.descriptor), ["ic3ih5oc3kh3n\"joined\"", "ic3ih5oc3kh3n\"next\""])
    XCTAssertEqual(batch.problems.map(\.line), [3, 5])
    XCTAssertEqual(batch.ignoredOptions, [.init(option: "--stag", file: "t", line: 1)])
    XCTAssertEqual(refusal("--attr-post-ops=, \\\n   relu\n"),
                   "t:1: option '--attr-post-ops=,relu' changes the computation and is not supported")
    XCTAssertEqual(refusal("\n\\\nic3ih5oc3kh3\n"), "t:3: a line continuation '\\' with nothing before it to continue")
  }

  func testMinibatchAppliesToLaterProblemsUntilReset() throws {
    let text = """
      ic3ih5oc3kh3n"before"
      --mb=8
      ic3ih5oc3kh3n"eight"
      --mb=0 ic3ih5oc3kh3n"zero"
      --mb=16 ic3ih5oc3kh3n"sixteen" --reset ic3ih5oc3kh3n"reset"
      --mb=4 --mb= ic3ih5oc3kh3n"empty"
      """
    let batch = try parse(text)
    XCTAssertEqual(batch.problems.map(\.minibatch), [nil, 8, nil, 16, nil, nil])
    XCTAssertEqual(try parse("--mb=1048576 ic3ih5oc3kh3").problems.map(\.minibatch), [1 << 20])
  }

  func testOptionStateCrossesIncludesBothWays() throws {
    // benchdnn hands every file to one driver state: an --mb set before an
    // include applies inside it, and one set inside stays after it returns.
    let batch = try parse("--mb=2\n--batch=inner\nic3ih5oc3kh3n\"after\"\n",
                          ["inner": "ic3ih5oc3kh3n\"inside\"\n--mb=7\n"])
    XCTAssertEqual(batch.problems.map(\.minibatch), [2, 7])
    XCTAssertEqual(batch.problems.map(\.file), ["inner", "t"])
  }

  func testNestedIncludesResolveAgainstTheIncludingFile() throws {
    let batch = try parse("--reset\n--batch=harness/h\nic1ih5oc1kh1n\"top\"\n", source: "suite/test_all", [
      "suite/harness/h": "--mb=4 --batch=../shapes/s   # shapes next to the harness folder\n--batch=/abs/x\n",
      "suite/harness/../shapes/s": "ic2ih5oc2kh1n\"s1\"\n\nic3ih5oc3kh1n\"s2\"\n",
      "/abs/x": "ic4ih5oc4kh1n\"absolute\"",
    ])
    XCTAssertEqual(batch.problems.map(\.file), ["suite/harness/../shapes/s", "suite/harness/../shapes/s", "/abs/x", "suite/test_all"])
    XCTAssertEqual(batch.problems.map(\.line), [1, 3, 1, 3])
    XCTAssertEqual(batch.problems.map(\.minibatch), [4, 4, 4, 4])
    // The same file included twice, as harness files do with shapes files, is not a cycle.
    XCTAssertEqual(try parse("--batch=s --dir=FWD_I --batch=s", ["s": "ic3ih5oc3kh3"]).problems.count, 2)
  }

  func testRepeatCounts() throws {
    let batch = try parse("""
      ic3ih5oc3kh3n"net:layer*3"
      ic3ih5oc3kh3n"*6"
      ic3ih5oc3kh3n"net:layer*007"
      ic3ih5oc3kh3nnet:unquoted*5
      ic3ih5oc3kh3n"net:plain"
      ic3ih5oc3kh3
      ic3ih5oc3kh3n"max*1048576"
      """)
    XCTAssertEqual(batch.problems.map(\.repeatCount), [3, 6, 7, 5, 1, 1, 1 << 20])
  }

  func testBadRepeatCounts() {
    let noCount = "'*' must be followed by a repeat count that ends the name (*N)"
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x\"\nic3ih5oc3kh3n\"x*\""), "t:2: name 'x*': \(noCount)")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"*\""), "t:1: name '*': \(noCount)")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*3a\""), "t:1: name 'x*3a': \(noCount)")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*2*3\""), "t:1: name 'x*2*3': \(noCount)")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*0\""), "t:1: name 'x*0': repeat count *0 must be at least 1")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*000\""), "t:1: name 'x*000': repeat count *0 must be at least 1")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*1048577\""), "t:1: name 'x*1048577': repeat count *1048577 is larger than 1048576")
    XCTAssertEqual(refusal("ic3ih5oc3kh3n\"x*99999999999999999999999\""),
                   "t:1: name 'x*99999999999999999999999': repeat count *99999999999999999999999 is larger than 1048576")
  }

  func testThreeDimensionalProblemsAreFlagged() throws {
    let batch = try parse("""
      mb1ic16id5ih5oc16od5kd3kh3n"3d"
      ic32oc13_id13od11kd3pd0_ih13oh12kh3ph0_n"tails_3d"
      mb1_ic1oc16_kd1kh1kw3_id1ih1iw1_sd1sh1sw2_pd0ph0pw1_dd0dh0dw3n"canonical_1d_form"
      ic3ih5oc3kh3n"kd3_id5_in_the_name"
      ic3ih5oc3kh3sh1ph1dh0n"2d"
      """)
    XCTAssertEqual(batch.problems.map(\.isThreeDimensional), [true, true, true, false, false])
  }

  func testIgnoredOptionsAreListedOnceWhereFirstSeen() throws {
    let batch = try parse("""
      --reset --mode=p --stag=axb
      --dir=FWD_B,FWD_I --dt=f32:f32:f32 --cfg=f32 --alg=WINO
      --stag=abcd --skip-impl="ref:gemm" -v2 --match=.*kh3.* --attr-post-ops= --attr-scales=,
      --dir=fwd_d --bia-dt=undef --attr-fpmath=strict --attr-scratchpad=user
      ic3ih5oc3kh3
      """)
    XCTAssertEqual(batch.ignoredOptions.map(\.option), [
      "--mode", "--stag", "--dir", "--dt", "--cfg", "--alg", "--skip-impl", "-v", "--match",
      "--attr-post-ops", "--attr-scales", "--bia-dt", "--attr-fpmath", "--attr-scratchpad",
    ])
    XCTAssertEqual(batch.ignoredOptions[1], .init(option: "--stag", file: "t", line: 1))
    XCTAssertEqual(batch.ignoredOptions[2], .init(option: "--dir", file: "t", line: 2))
    XCTAssertEqual(batch.problems.count, 1)
  }

  func testOptionsThatChangeTheComputationAreRefused() {
    for option in [
      "--attr-post-ops=relu", "--attr-post-ops=,sum:0.5", "--dir=BWD_D", "--dir=FWD_B,BWD_WB",
      "--dt=bf16", "--dt=f32:f32:s8", "--dt=u8:s8:f32", "--cfg=u8s8s32", "--bia-dt=bf16",
      "--attr-scales=src:common:0.25", "--attr-zero-points=src:common:2", "--attr-oscale=common:0.5",
      "--attr-fpmath=bf16", "--attr-acc-mode=relaxed", "--attr-rounding-mode=dst:stochastic",
      "--attr-dropout=0.5",
    ] {
      XCTAssertEqual(refusal("ic3ih5oc3kh3\n\(option) ic3ih5oc3kh3"),
                     "t:2: option '\(option)' changes the computation and is not supported")
    }
    XCTAssertNoThrow(try parse("--dir= --dt= --cfg= ic3ih5oc3kh3"), "an empty value is benchdnn's default")
  }

  func testUnknownOptionsAreRefusedByName() {
    XCTAssertEqual(refusal("ic3ih5oc3kh3\n  --frobnicate=1"), "t:2: unknown option '--frobnicate=1'")
    XCTAssertEqual(refusal("-x"), "t:1: unknown option '-x'")
    XCTAssertEqual(refusal("-v"), "t:1: unknown option '-v'")
    XCTAssertEqual(refusal("--"), "t:1: unknown option '--'")
    XCTAssertEqual(refusal("--conv"), "t:1: unknown option '--conv'")
    XCTAssertEqual(refusal("--mode"), "t:1: option '--mode' needs a value (--mode=…)")
    XCTAssertEqual(refusal("--batch"), "t:1: option '--batch' needs a value (--batch=…)")
  }

  func testMalformedMinibatch() {
    let expected = "not a minibatch (a whole number from 0 to 1048576)"
    for value in ["-1", "abc", "1.5", "+3", "1048577", "99999999999999999999999", "٣"] {
      XCTAssertEqual(refusal("\n--mb=\(value)"), "t:2: --mb=\(value): \(expected)")
    }
    XCTAssertEqual(refusal("--mb=2,16"), "t:1: --mb=2,16: lists of minibatches are not supported; give one value")
    XCTAssertEqual(refusal("--mb"), "t:1: option '--mb' needs a value (--mb=…)")
  }

  func testMissingIncludeCycleAndDepth() {
    XCTAssertEqual(refusal("\n\n--batch=nope", source: "dir/top"), "dir/top:3: --batch=nope: cannot read dir/nope")
    XCTAssertEqual(refusal("--batch=", source: "dir/top"), "dir/top:1: --batch= names no file")
    XCTAssertEqual(refusal("--batch=b", source: "a", ["b": "ic3ih5oc3kh3\n--batch=a"]),
                   "b:2: --batch=a includes itself (a → b → a)")
    XCTAssertEqual(refusal("--batch=./a", source: "d/a"), "d/a:1: --batch=./a includes itself (d/a → d/./a)")
    XCTAssertEqual(refusal("--batch=b", source: "d/a", ["d/b": "--batch=c", "d/c": "--batch=../d/b"]),
                   "d/c:1: --batch=../d/b includes itself (d/b → d/c → d/../d/b)")
    // A chain of 40 files stops at the 32nd.
    var chain: [String: String] = [:]
    for i in 1..<40 { chain["f\(i)"] = "--batch=f\(i + 1)" }
    XCTAssertEqual(refusal("--batch=f1", source: "f0", chain), "f31:1: --batch=f32: files nested more than 32 deep")
    // Each file including the next twice would read 2^24 files.
    var doubling: [String: String] = [:]
    for i in 1..<24 { doubling["g\(i)"] = "--batch=g\(i + 1) --batch=g\(i + 1)" }
    doubling["g24"] = "ic3ih5oc3kh3"
    XCTAssertTrue(refusal("--batch=g1", source: "g0", doubling)?.hasSuffix("more than 10000 files read in all") == true)
  }

  func testLoadReadsFilesFromDisk() throws {
    let dir = try CommandLine.temporaryDirectory()
    let shapes = dir.appendingPathComponent("shapes")
    try FileManager.default.createDirectory(at: shapes, withIntermediateDirectories: true)
    try Data(resnet50Sample.utf8).write(to: shapes.appendingPathComponent("shapes_rn50"))
    try Data("--reset --dir=FWD_I --mb=1\n--batch=shapes/shapes_rn50\n".utf8).write(to: dir.appendingPathComponent("perf_rn50"))
    let batch = try BenchdnnBatch.load(dir.appendingPathComponent("perf_rn50").path)
    XCTAssertEqual(batch.problems.count, 8)
    XCTAssertEqual(batch.problems.reduce(0) { $0 + $1.repeatCount }, 18)
    XCTAssertEqual(batch.problems.first?.file, shapes.appendingPathComponent("shapes_rn50").path)
    XCTAssertEqual(batch.ignoredOptions.map(\.option), ["--dir"])

    let missing = dir.appendingPathComponent("missing").path
    XCTAssertThrowsError(try BenchdnnBatch.load(missing)) { XCTAssertEqual("\($0)", "cannot read \(missing)") }
    try Data([0x69, 0x63, 0xFF, 0xFE]).write(to: dir.appendingPathComponent("binary"))
    try Data("--batch=binary\n--batch=shapes".utf8).write(to: dir.appendingPathComponent("bad"))
    XCTAssertThrowsError(try BenchdnnBatch.load(dir.appendingPathComponent("bad").path)) {
      XCTAssertEqual("\($0)", "\(dir.path)/bad:1: --batch=binary: \(dir.path)/binary is not UTF-8 text")
    }
    try Data("--batch=shapes".utf8).write(to: dir.appendingPathComponent("folder"))
    XCTAssertThrowsError(try BenchdnnBatch.load(dir.appendingPathComponent("folder").path)) {
      XCTAssertEqual("\($0)", "\(dir.path)/folder:1: --batch=shapes: cannot read \(dir.path)/shapes", "a folder is not a file")
    }
  }

  /// Random words and bytes from the syntax's own pieces: every input ends in
  /// a batch or a BatchFileError, never a trap.
  func testArbitraryInputNeverTraps() {
    let pieces = ["--mb=", "--batch=", "--reset", "--dir=", "--stag=", "-v", "#", "\\", "\n", " ", "\r\n", "\"", "n", "*",
                  "0", "7", "99999999999999999999", "ic3", "kd1", "id", "_", "=", ",", ":", "é", "\u{301}", "/", "..", "x"]
    var generator = SeededGenerator(seed: 2024)
    for _ in 0..<3000 {
      let count = Int(generator.next() % 24)
      let text = (0..<count).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
      do { _ = try BenchdnnBatch.parse(text, source: "f", read: { _ in text }) } catch is BatchFileError {} catch {
        XCTFail("\(error) for \(text.debugDescription)")
      }
    }
  }
}

import ConvCore
import Foundation

/// A Keras HDF5 weights file: the keras.applications downloads (e.g.
/// `resnet50_weights_tf_dim_ordering_tf_kernels.h5`), Keras's legacy
/// `save_weights('….h5')`, and the `model_weights` group of a whole-model
/// `model.save('m.h5')`.
///
/// Layout: the root (or `/model_weights`) has an attribute `layer_names`, a
/// list of strings; each layer has a group of that name whose attribute
/// `weight_names` lists its weights as paths relative to the group
/// (`conv1_conv/kernel:0` in Keras 2, `conv1_conv/kernel` in Keras 3), each a
/// float32 dataset in Keras's own layout (a Conv2D kernel is
/// [kh, kw, in, out], a Dense kernel [in, out]). Both string attributes may
/// be fixed-length byte strings (numpy `S…`, what Keras writes) or
/// variable-length strings (what h5py writes for `str`); a list too large for
/// one attribute is split by Keras into `layer_names0`, `layer_names1`, …
///
/// Files are read and written through libhdf5 loaded at run time
/// (`HDF5Library`); without it every call throws `unavailableReason`.
public struct KerasWeightsFile: Sendable, Equatable {
  public struct Weight: Sendable, Equatable {
    /// As listed in `weight_names`: the dataset's path relative to its layer group.
    public var name: String
    public var shape: [Int]
    /// Row-major (C order) values, `shape`'s product of them.
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
      self.name = name
      self.shape = shape
      self.values = values
    }
  }

  public struct Layer: Sendable, Equatable {
    public var name: String
    /// In `weight_names` order; empty for layers without weights (input, activation, pooling).
    public var weights: [Weight]
    public init(name: String, weights: [Weight]) {
      self.name = name
      self.weights = weights
    }
  }

  /// In `layer_names` order.
  public var layers: [Layer]

  public init(layers: [Layer]) { self.layers = layers }

  /// Datasets with more values than this are refused before any allocation
  /// (1 GiB of float32; the largest weight of any model here, a 3×3 of Wide
  /// ResNet's last stage, has 9,437,184 values). A dataset's shape costs a few
  /// bytes in the file whatever it claims, so this bounds what a bogus file
  /// can make the tool allocate.
  static let maxValuesPerWeight = 1 << 28
  /// The same bound on all the datasets of one file together (ResNet-152 has 60 million weights).
  static let maxValuesPerFile = 1 << 28

  /// Keras's limit for one attribute (HDF5 object headers hold 64 KiB);
  /// longer name lists are split into numbered attributes.
  static let attributeByteLimit = 64512

  /// nil when libhdf5 is loadable, else the one-line reason.
  public static var unavailableReason: String? {
    if case .failure(let reason) = HDF5Library.shared { return reason.message }
    return nil
  }

  /// Every layer listed in `layer_names`, with its weights. Throws a
  /// `WeightsFileError` of one line naming the file and the problem.
  public static func read(contentsOf url: URL) throws -> KerasWeightsFile {
    let fileSize = try hdf5FileSize(url)
    let library = try HDF5Library.shared.mapError { WeightsFileError("\(url.path): \($0.message)") }.get()
    do {
      return try library.serialized { try KerasReader(library: library, fileSize: fileSize).read(url.path) }
    } catch let failure as HDF5Failure {
      throw WeightsFileError("\(url.path): \(failure.message)")
    }
  }

  /// Writes the Keras 2 layout (layer_names, weight_names, `:0` names as given), atomically (temporary file in the same folder + rename).
  ///
  /// Strings are written as Keras writes them (fixed-length, null-padded),
  /// values as little-endian float32; `kerasVersion` and `backend` become the
  /// root attributes `keras_version` and `backend`, which Keras reads back.
  public func write(to url: URL, kerasVersion: String = "2.15.0", backend: String = "tensorflow") throws {
    for layer in layers {
      for weight in layer.weights {
        guard let size = tensorSize(shape: weight.shape, elementSize: 4), size.count == weight.values.count else {
          throw WeightsFileError("\(url.path): weight '\(weight.name)' of layer '\(layer.name)' has shape \(weight.shape) but \(weight.values.count) values")
        }
      }
    }
    let library = try HDF5Library.shared.mapError { WeightsFileError("\(url.path): \($0.message)") }.get()
    try AtomicFile.write(to: url) { temporary in
      do {
        try library.serialized {
          try KerasWriter(library: library).write(self, to: temporary.path, kerasVersion: kerasVersion, backend: backend)
        }
      } catch let failure as HDF5Failure {
        throw WeightsFileError("\(url.path): \(failure.message)")
      }
    }
  }

  /// The size in bytes of the file at `url` when it carries the HDF5 signature
  /// `\x89HDF\r\n\x1a\n` where the format allows a superblock to start (byte
  /// 0, 512, 1024, 2048, … after a user block); checked without libhdf5 so a
  /// wrong file is named as such on any machine.
  static func hdf5FileSize(_ url: URL) throws -> Int {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    do {
      let handle = try FileHandle(forReadingFrom: url)
      defer { try? handle.close() }
      guard let size = Int(exactly: try handle.seekToEnd()) else { throw CocoaError(.fileReadTooLarge) }
      var offset = 0
      while offset <= size - signature.count {
        try handle.seek(toOffset: UInt64(offset))
        if try handle.read(upToCount: signature.count).map(Array.init) == signature { return size }
        offset = offset == 0 ? 512 : offset * 2
      }
    } catch {
      throw WeightsFileError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    throw WeightsFileError("\(url.path): not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, …)")
  }
}

/// Reads one file; every failure is an `HDF5Failure` without the file path.
private struct KerasReader {
  let library: HDF5Library
  /// Bounds the string lists an attribute may claim: their bytes are stored in the file.
  let fileSize: Int

  private typealias ID = HDF5Library.ID

  /// Values read so far, against `KerasWeightsFile.maxValuesPerFile`.
  private final class Tally { var values = 0 }
  private let tally = Tally()

  init(library: HDF5Library, fileSize: Int) {
    self.library = library
    self.fileSize = fileSize
  }

  static func firstRepeated(_ names: [String]) -> String? {
    var seen = Set<String>()
    return names.first { !seen.insert($0).inserted }
  }

  func read(_ path: String) throws -> KerasWeightsFile {
    let h5 = library
    let accessList = try h5.strongCloseAccessList()
    defer { _ = h5.H5Pclose(accessList) }
    let file = try h5.valid(h5.H5Fopen(path, HDF5Library.readOnly, accessList), "libhdf5 cannot open it")
    defer { _ = h5.H5Fclose(file) }
    let root = try h5.valid(h5.H5Gopen2(file, "/", HDF5Library.defaultList), "cannot open the root group")
    defer { _ = h5.H5Gclose(root) }

    var container = root, containerPath = ""
    var modelWeights: ID?
    defer { if let modelWeights { _ = h5.H5Gclose(modelWeights) } }
    var layerNames = try names("layer_names", of: root, at: "/")
    if layerNames == nil, h5.linkExists("model_weights", in: root) {
      let group = try h5.valid(h5.H5Gopen2(root, "model_weights", HDF5Library.defaultList), "'/model_weights' is not a group")
      modelWeights = group
      container = group
      containerPath = "/model_weights"
      layerNames = try names("layer_names", of: group, at: containerPath)
    }
    guard let layerNames else {
      throw HDF5Failure("no 'layer_names' attribute at '/' or in '/model_weights'; not a Keras weights file")
    }
    if let twice = Self.firstRepeated(layerNames) {
      throw HDF5Failure("layer '\(printable(twice))' is listed twice in layer_names")
    }
    return KerasWeightsFile(layers: try layerNames.map { name in
      try layer(name, in: container, groupPath: "\(containerPath)/\(name)")
    })
  }

  private func layer(_ name: String, in container: ID, groupPath: String) throws -> KerasWeightsFile.Layer {
    let h5 = library
    guard h5.linkExists(name, in: container) else {
      throw HDF5Failure("layer '\(printable(name))' is listed in layer_names but there is no group '\(printable(groupPath))'")
    }
    let group = try h5.valid(h5.H5Gopen2(container, name, HDF5Library.defaultList), "'\(printable(groupPath))' is not a group")
    defer { _ = h5.H5Gclose(group) }
    guard let weightNames = try names("weight_names", of: group, at: groupPath) else {
      throw HDF5Failure("layer group '\(printable(groupPath))' has no 'weight_names' attribute")
    }
    if let twice = Self.firstRepeated(weightNames) {
      throw HDF5Failure("weight '\(printable(twice))' is listed twice in weight_names of layer '\(printable(name))'")
    }
    return KerasWeightsFile.Layer(name: name, weights: try weightNames.map { weightName in
      let datasetPath = "\(groupPath)/\(weightName)"
      guard h5.linkExists(weightName, in: group) else {
        throw HDF5Failure("weight '\(printable(weightName))' of layer '\(printable(name))' has no dataset '\(printable(datasetPath))'")
      }
      let dataset = try h5.valid(h5.H5Dopen2(group, weightName, HDF5Library.defaultList), "'\(printable(datasetPath))' is not a dataset")
      defer { _ = h5.H5Dclose(dataset) }
      let (shape, values) = try floats(dataset, at: datasetPath)
      return KerasWeightsFile.Weight(name: weightName, shape: shape, values: values)
    })
  }

  /// A float32 dataset's shape and values. Other types are refused rather
  /// than converted: a float64 or float16 file is not what the weights claim.
  private func floats(_ dataset: ID, at path: String) throws -> ([Int], [Float]) {
    let h5 = library
    let type = try h5.valid(h5.H5Dget_type(dataset), "cannot read the type of dataset '\(printable(path))'")
    defer { _ = h5.H5Tclose(type) }
    guard h5.H5Tget_class(type) == HDF5Library.floatClass, h5.H5Tget_size(type) == 4 else {
      throw HDF5Failure("dataset '\(printable(path))' holds \(h5.typeName(type)) values; only float32 is read")
    }
    let space = try h5.valid(h5.H5Dget_space(dataset), "cannot read the shape of dataset '\(printable(path))'")
    defer { _ = h5.H5Sclose(space) }
    let shape = try self.shape(of: space, "dataset '\(printable(path))'")
    guard let count = tensorSize(shape: shape, elementSize: 4)?.count else {
      throw HDF5Failure("dataset '\(printable(path))' has shape \(shape), too large to address")
    }
    guard count <= KerasWeightsFile.maxValuesPerWeight else {
      throw HDF5Failure("dataset '\(printable(path))' has shape \(shape), \(count) values, more than the 2^28 accepted")
    }
    tally.values += count
    guard tally.values <= KerasWeightsFile.maxValuesPerFile else {
      throw HDF5Failure("the datasets up to '\(printable(path))' hold \(tally.values) values, more than the 2^28 accepted in one file")
    }
    // A dataset declared but never written reads back as its fill value:
    // a few bytes of file that would claim any number of weights.
    if count > 0 && h5.H5Dget_storage_size(dataset) == 0 {
      throw HDF5Failure("dataset '\(printable(path))' of shape \(shape) has no values stored in the file (never written)")
    }
    var values = [Float](repeating: 0, count: count)
    // An empty selection needs no read (and libhdf5 refuses a null buffer).
    if count > 0 {
      try h5.check(h5.H5Dread(dataset, h5.nativeFloat, HDF5Library.wholeSelection, HDF5Library.wholeSelection,
                              HDF5Library.defaultList, &values), "cannot read dataset '\(printable(path))'")
    }
    return (shape, values)
  }

  /// The dimensions of a dataspace; [] for a scalar. `what` names its owner in errors.
  private func shape(of space: ID, _ what: String) throws -> [Int] {
    let h5 = library
    switch h5.H5Sget_simple_extent_type(space) {
    case HDF5Library.scalarSpace:
      return []
    case HDF5Library.simpleSpace:
      let rank = h5.H5Sget_simple_extent_ndims(space)
      guard rank >= 0 else { throw HDF5Failure("cannot read the rank of \(what) (\(h5.errorDetail()))") }
      var dims = [UInt64](repeating: 0, count: Int(rank))
      guard h5.H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
        throw HDF5Failure("cannot read the shape of \(what) (\(h5.errorDetail()))")
      }
      return try dims.map { dim in
        guard let n = Int(exactly: dim) else { throw HDF5Failure("\(what) has shape \(dims), too large to address") }
        return n
      }
    case HDF5Library.nullSpace:
      throw HDF5Failure("\(what) has a null dataspace (no shape, no values)")
    default:
      throw HDF5Failure("cannot read the dataspace of \(what) (\(h5.errorDetail()))")
    }
  }

  /// The strings of attribute `name` on `object`, or of `name0`, `name1`, …
  /// concatenated (Keras splits long lists); nil when neither exists.
  private func names(_ name: String, of object: ID, at path: String) throws -> [String]? {
    if try attributeExists(name, on: object, at: path) { return try strings(name, of: object, at: path) }
    var chunks: [String]?
    var index = 0
    while try attributeExists("\(name)\(index)", on: object, at: path) {
      chunks = (chunks ?? []) + (try strings("\(name)\(index)", of: object, at: path))
      index += 1
    }
    return chunks
  }

  private func attributeExists(_ name: String, on object: ID, at path: String) throws -> Bool {
    let found = library.H5Aexists(object, name)
    guard found >= 0 else { throw HDF5Failure("cannot list the attributes of '\(path)' (\(library.errorDetail()))") }
    return found > 0
  }

  /// A string attribute's entries, fixed-length or variable-length, decoded as UTF-8.
  private func strings(_ name: String, of object: ID, at path: String) throws -> [String] {
    let h5 = library
    let what = "attribute '\(name)' of '\(path)'"
    let attribute = try h5.valid(h5.H5Aopen(object, name, HDF5Library.defaultList), "cannot open \(what)")
    defer { _ = h5.H5Aclose(attribute) }
    let space = try h5.valid(h5.H5Aget_space(attribute), "cannot read the shape of \(what)")
    defer { _ = h5.H5Sclose(space) }
    let points = h5.H5Sget_simple_extent_npoints(space)
    guard points >= 0 else { throw HDF5Failure("cannot count the entries of \(what) (\(h5.errorDetail()))") }
    // Keras stores an empty list as whatever numpy made of `[]` (float64), so no type check.
    if points == 0 { return [] }
    guard let count = Int(exactly: points), count <= fileSize else {
      throw HDF5Failure("\(what) claims \(points) entries, more than the file's \(fileSize) bytes can hold")
    }
    let type = try h5.valid(h5.H5Aget_type(attribute), "cannot read the type of \(what)")
    defer { _ = h5.H5Tclose(type) }
    guard h5.H5Tget_class(type) == HDF5Library.stringClass else {
      throw HDF5Failure("\(what) holds \(h5.typeName(type)) values, expected strings")
    }
    let variable = h5.H5Tis_variable_str(type)
    guard variable >= 0 else { throw HDF5Failure("cannot read the type of \(what) (\(h5.errorDetail()))") }
    let texts = variable > 0 ? try variableStrings(attribute, type: type, space: space, count: count, what)
                             : try fixedStrings(attribute, type: type, count: count, what)
    return try texts.enumerated().map { index, text in
      guard let text else { throw HDF5Failure("entry \(index) of \(what) is not UTF-8") }
      return text
    }
  }

  /// Variable-length strings, read as C strings in the file's character set
  /// (libhdf5 does not convert between ASCII and UTF-8); nil where not UTF-8.
  private func variableStrings(_ attribute: ID, type: ID, space: ID, count: Int, _ what: String) throws -> [String?] {
    let h5 = library
    let memoryType = try h5.valid(h5.H5Tcopy(h5.cString), "cannot make a string type")
    defer { _ = h5.H5Tclose(memoryType) }
    try h5.check(h5.H5Tset_size(memoryType, HDF5Library.variableLength), "cannot make a string type")
    try h5.check(h5.H5Tset_cset(memoryType, h5.H5Tget_cset(type)), "cannot read the character set of \(what)")
    var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
    // Registered before the read so that strings allocated by a read that fails part way are freed too.
    defer { _ = h5.reclaimVariableLength(memoryType, space, HDF5Library.defaultList, &pointers) }
    try h5.check(h5.H5Aread(attribute, memoryType, &pointers), "cannot read \(what)")
    return pointers.map { pointer in
      guard let pointer else { return "" }  // libhdf5 may store an empty string as a null entry
      return String(validatingCString: pointer)
    }
  }

  /// Fixed-length strings: `count` entries of the type's size, each ending at
  /// its first NUL (or, space-padded, at its trailing spaces); nil where not UTF-8.
  private func fixedStrings(_ attribute: ID, type: ID, count: Int, _ what: String) throws -> [String?] {
    let h5 = library
    let size = h5.H5Tget_size(type)
    guard size > 0, let total = tensorSize(shape: [count], elementSize: size)?.bytes, total <= fileSize else {
      throw HDF5Failure("\(what) claims \(count) strings of \(size) bytes, more than the file's \(fileSize) bytes can hold")
    }
    var bytes = [UInt8](repeating: 0, count: total)
    // Read in the file's own type: fixed-length strings need no conversion.
    try h5.check(h5.H5Aread(attribute, type, &bytes), "cannot read \(what)")
    let spacePadded = h5.H5Tget_strpad(type) == HDF5Library.spacePadding
    return (0..<count).map { index in
      var entry = bytes[index * size ..< (index + 1) * size]
      if let end = entry.firstIndex(of: 0) { entry = entry[..<end] }
      if spacePadded { while entry.last == UInt8(ascii: " ") { entry = entry.dropLast() } }
      return String(validating: entry, as: UTF8.self)
    }
  }
}

/// Writes one file in the Keras 2 layout; every failure is an `HDF5Failure` without the file path.
private struct KerasWriter {
  let library: HDF5Library

  private typealias ID = HDF5Library.ID

  func write(_ weights: KerasWeightsFile, to path: String, kerasVersion: String, backend: String) throws {
    let h5 = library
    let accessList = try h5.strongCloseAccessList()
    defer { _ = h5.H5Pclose(accessList) }
    let file = try h5.valid(h5.H5Fcreate(path, HDF5Library.truncate, HDF5Library.defaultList, accessList), "libhdf5 cannot create it")
    do {
      try contents(weights, in: file, kerasVersion: kerasVersion, backend: backend)
    } catch {
      _ = h5.H5Fclose(file)
      throw error
    }
    // Closing flushes everything written, so its failure is a failed write.
    try h5.check(h5.H5Fclose(file), "cannot finish writing")
  }

  private func contents(_ weights: KerasWeightsFile, in file: ID, kerasVersion: String, backend: String) throws {
    let h5 = library
    let root = try h5.valid(h5.H5Gopen2(file, "/", HDF5Library.defaultList), "cannot open the root group")
    defer { _ = h5.H5Gclose(root) }
    try nameList(weights.layers.map(\.name), as: "layer_names", on: root, at: "/")
    try fixedStrings([Array(backend.utf8)], as: "backend", on: root, at: "/", scalar: true)
    try fixedStrings([Array(kerasVersion.utf8)], as: "keras_version", on: root, at: "/", scalar: true)

    // Weight names are paths ("conv1_conv/kernel:0"): their groups are created on the way.
    let linkList = try h5.valid(h5.H5Pcreate(h5.linkCreateClass), "cannot create a link-creation property list")
    defer { _ = h5.H5Pclose(linkList) }
    try h5.check(h5.H5Pset_create_intermediate_group(linkList, 1), "cannot request intermediate groups")
    for layer in weights.layers {
      let groupPath = "/\(layer.name)"
      let group = try h5.valid(h5.H5Gcreate2(root, layer.name, HDF5Library.defaultList, HDF5Library.defaultList, HDF5Library.defaultList),
                               "cannot create group '\(groupPath)' for layer '\(layer.name)'")
      defer { _ = h5.H5Gclose(group) }
      try nameList(layer.weights.map(\.name), as: "weight_names", on: group, at: groupPath)
      for weight in layer.weights {
        try dataset(weight, in: group, at: "\(groupPath)/\(weight.name)", linkList: linkList)
      }
    }
  }

  private func dataset(_ weight: KerasWeightsFile.Weight, in group: ID, at path: String, linkList: ID) throws {
    let h5 = library
    let dims = weight.shape.map { UInt64($0) }
    let space = try h5.valid(dims.isEmpty ? h5.H5Screate(HDF5Library.scalarSpace) : h5.H5Screate_simple(Int32(clamping: dims.count), dims, nil),
                             "cannot make a dataspace of shape \(weight.shape) for '\(path)'")
    defer { _ = h5.H5Sclose(space) }
    let dataset = try h5.valid(h5.H5Dcreate2(group, weight.name, h5.littleEndianFloat, space, linkList, HDF5Library.defaultList, HDF5Library.defaultList),
                               "cannot create dataset '\(printable(path))'")
    defer { _ = h5.H5Dclose(dataset) }
    // An empty dataset needs no write (and libhdf5 refuses a null buffer).
    if !weight.values.isEmpty {
      try h5.check(h5.H5Dwrite(dataset, h5.nativeFloat, HDF5Library.wholeSelection, HDF5Library.wholeSelection,
                               HDF5Library.defaultList, weight.values), "cannot write dataset '\(printable(path))'")
    }
  }

  /// A list of names as Keras writes it: one fixed-length string attribute,
  /// or, past the attribute limit, `name0`, `name1`, … split as numpy's
  /// `array_split` does (the first `count % chunks` chunks one entry longer).
  private func nameList(_ names: [String], as name: String, on object: ID, at path: String) throws {
    let entries = names.map { Array($0.utf8) }
    let limit = KerasWeightsFile.attributeByteLimit
    let size = max(1, entries.map(\.count).max() ?? 0)
    guard size <= limit else {
      throw HDF5Failure("a name in '\(name)' of '\(path)' is \(size) bytes, more than the \(limit) an attribute holds")
    }
    var chunks = 1
    while (entries.count + chunks - 1) / chunks * size > limit { chunks += 1 }
    guard chunks > 1 else { return try fixedStrings(entries, as: name, on: object, at: path, size: size) }
    var start = 0
    for index in 0..<chunks {
      let end = start + entries.count / chunks + (index < entries.count % chunks ? 1 : 0)
      try fixedStrings(Array(entries[start..<end]), as: "\(name)\(index)", on: object, at: path, size: size)
      start = end
    }
  }

  /// A fixed-length, null-padded string attribute (numpy's `S<size>`): one
  /// entry when `scalar`, else a 1-D array.
  private func fixedStrings(_ entries: [[UInt8]], as name: String, on object: ID, at path: String,
                            size: Int? = nil, scalar: Bool = false) throws {
    let h5 = library
    let what = "attribute '\(name)' of '\(path)'"
    let size = size ?? max(1, entries.map(\.count).max() ?? 0)
    let type = try h5.valid(h5.H5Tcopy(h5.cString), "cannot make a string type")
    defer { _ = h5.H5Tclose(type) }
    try h5.check(h5.H5Tset_size(type, size), "cannot make a \(size)-byte string type")
    try h5.check(h5.H5Tset_strpad(type, HDF5Library.nullPadding), "cannot make a null-padded string type")
    let count = [UInt64(entries.count)]
    let space = try h5.valid(scalar ? h5.H5Screate(HDF5Library.scalarSpace) : h5.H5Screate_simple(1, count, nil), "cannot make a dataspace for \(what)")
    defer { _ = h5.H5Sclose(space) }
    let attribute = try h5.valid(h5.H5Acreate2(object, name, type, space, HDF5Library.defaultList, HDF5Library.defaultList), "cannot create \(what)")
    defer { _ = h5.H5Aclose(attribute) }
    var bytes = [UInt8](repeating: 0, count: max(1, entries.count * size))
    for (index, entry) in entries.enumerated() { bytes.replaceSubrange(index * size ..< index * size + entry.count, with: entry) }
    try h5.check(h5.H5Awrite(attribute, type, bytes), "cannot write \(what)")
  }
}

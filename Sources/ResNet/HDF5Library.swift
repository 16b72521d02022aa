import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libhdf5 (1.10 or later) opened privately with `dlopen(RTLD_NOW | RTLD_LOCAL)`,
/// with the few C functions the Keras weights reader and writer call.
///
/// Nothing links against libhdf5 and the package carries no HDF5 header, so the
/// binary runs on a machine without it and reports why `.h5` files are
/// unavailable. Every function, and every predefined type and property-list
/// class (C global variables such as `H5T_NATIVE_FLOAT_g`, valid only after
/// `H5open`), is taken with `dlsym` from that one handle.
///
/// C types as declared by the 1.10 headers: `hid_t` is Int64 (it was 32-bit
/// before 1.10, hence the version check), `herr_t` Int32 (negative on failure),
/// `htri_t` Int32 (positive true, 0 false, negative failure), `hsize_t`
/// UInt64, `hssize_t` Int64, `size_t` Int, C enums Int32.
final class HDF5Library: @unchecked Sendable {
  typealias ID = Int64
  typealias Status = Int32
  typealias Tristate = Int32

  // Values fixed by the 1.10 headers (and kept by later releases).
  /// H5P_DEFAULT, H5E_DEFAULT and H5S_ALL are all identifier 0.
  static let defaultList: ID = 0
  static let defaultErrorStack: ID = 0
  static let wholeSelection: ID = 0
  static let readOnly: UInt32 = 0x0000  // H5F_ACC_RDONLY
  static let truncate: UInt32 = 0x0002  // H5F_ACC_TRUNC
  static let closeStrong: Int32 = 3  // H5F_CLOSE_STRONG
  static let variableLength = -1  // H5T_VARIABLE, (size_t)-1
  static let walkUpward: Int32 = 0  // H5E_WALK_UPWARD: most specific error first
  // H5T_class_t
  static let integerClass: Int32 = 0
  static let floatClass: Int32 = 1
  static let stringClass: Int32 = 3
  static let unsignedSign: Int32 = 0  // H5T_SGN_NONE
  static let nullPadding: Int32 = 1  // H5T_STR_NULLPAD, numpy's `S` strings
  static let spacePadding: Int32 = 2  // H5T_STR_SPACEPAD
  // H5S_class_t
  static let scalarSpace: Int32 = 0
  static let simpleSpace: Int32 = 1
  static let nullSpace: Int32 = 2

  /// Byte offset of `desc` in `H5E_error2_t`, one entry of an error stack:
  /// three `hid_t` (class, major, minor), `unsigned line` padded to 8 bytes,
  /// then the pointers `func_name`, `file_name`, `desc`.
  static let errorDescriptionOffset = 3 * 8 + 8 + 2 * 8

  typealias ErrorWalker = @convention(c) (UInt32, UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Status
  typealias ErrorHandler = @convention(c) (ID, UnsafeMutableRawPointer?) -> Status

  let H5open: @convention(c) () -> Status
  let H5get_libversion: @convention(c) (UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?) -> Status
  let H5Eset_auto2: @convention(c) (ID, ErrorHandler?, UnsafeMutableRawPointer?) -> Status
  let H5Ewalk2: @convention(c) (ID, Int32, ErrorWalker?, UnsafeMutableRawPointer?) -> Status

  let H5Fopen: @convention(c) (UnsafePointer<CChar>, UInt32, ID) -> ID
  let H5Fcreate: @convention(c) (UnsafePointer<CChar>, UInt32, ID, ID) -> ID
  let H5Fclose: @convention(c) (ID) -> Status
  let H5Pcreate: @convention(c) (ID) -> ID
  let H5Pclose: @convention(c) (ID) -> Status
  let H5Pset_fclose_degree: @convention(c) (ID, Int32) -> Status
  let H5Pset_create_intermediate_group: @convention(c) (ID, UInt32) -> Status
  let H5Gopen2: @convention(c) (ID, UnsafePointer<CChar>, ID) -> ID
  let H5Gcreate2: @convention(c) (ID, UnsafePointer<CChar>, ID, ID, ID) -> ID
  let H5Gclose: @convention(c) (ID) -> Status
  let H5Lexists: @convention(c) (ID, UnsafePointer<CChar>, ID) -> Tristate

  let H5Aexists: @convention(c) (ID, UnsafePointer<CChar>) -> Tristate
  let H5Aopen: @convention(c) (ID, UnsafePointer<CChar>, ID) -> ID
  let H5Acreate2: @convention(c) (ID, UnsafePointer<CChar>, ID, ID, ID, ID) -> ID
  let H5Aread: @convention(c) (ID, ID, UnsafeMutableRawPointer?) -> Status
  let H5Awrite: @convention(c) (ID, ID, UnsafeRawPointer?) -> Status
  let H5Aget_type: @convention(c) (ID) -> ID
  let H5Aget_space: @convention(c) (ID) -> ID
  let H5Aclose: @convention(c) (ID) -> Status

  let H5Dopen2: @convention(c) (ID, UnsafePointer<CChar>, ID) -> ID
  let H5Dcreate2: @convention(c) (ID, UnsafePointer<CChar>, ID, ID, ID, ID, ID) -> ID
  let H5Dread: @convention(c) (ID, ID, ID, ID, ID, UnsafeMutableRawPointer?) -> Status
  let H5Dwrite: @convention(c) (ID, ID, ID, ID, ID, UnsafeRawPointer?) -> Status
  let H5Dget_type: @convention(c) (ID) -> ID
  let H5Dget_space: @convention(c) (ID) -> ID
  let H5Dclose: @convention(c) (ID) -> Status
  /// Bytes of the dataset's values stored in the file (0 when never written).
  let H5Dget_storage_size: @convention(c) (ID) -> UInt64
  /// Frees the strings libhdf5 allocated when reading variable-length data:
  /// `H5Treclaim` (1.12+), else `H5Dvlen_reclaim` (1.10); same arguments.
  let reclaimVariableLength: @convention(c) (ID, ID, ID, UnsafeMutableRawPointer?) -> Status

  let H5Screate: @convention(c) (Int32) -> ID
  let H5Screate_simple: @convention(c) (Int32, UnsafePointer<UInt64>?, UnsafePointer<UInt64>?) -> ID
  let H5Sget_simple_extent_type: @convention(c) (ID) -> Int32
  let H5Sget_simple_extent_ndims: @convention(c) (ID) -> Int32
  let H5Sget_simple_extent_dims: @convention(c) (ID, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?) -> Int32
  let H5Sget_simple_extent_npoints: @convention(c) (ID) -> Int64
  let H5Sclose: @convention(c) (ID) -> Status

  let H5Tcopy: @convention(c) (ID) -> ID
  let H5Tclose: @convention(c) (ID) -> Status
  let H5Tget_class: @convention(c) (ID) -> Int32
  let H5Tget_size: @convention(c) (ID) -> Int
  let H5Tset_size: @convention(c) (ID, Int) -> Status
  let H5Tget_sign: @convention(c) (ID) -> Int32
  let H5Tis_variable_str: @convention(c) (ID) -> Tristate
  let H5Tget_cset: @convention(c) (ID) -> Int32
  let H5Tset_cset: @convention(c) (ID, Int32) -> Status
  let H5Tget_strpad: @convention(c) (ID) -> Int32
  let H5Tset_strpad: @convention(c) (ID, Int32) -> Status

  /// H5T_NATIVE_FLOAT: float32 in this machine's byte order (memory buffers).
  let nativeFloat: ID
  /// H5T_IEEE_F32LE: the type written to files, as Keras (numpy `<f4`) writes it.
  let littleEndianFloat: ID
  /// H5T_C_S1: a one-byte C string, the base of every string type made here.
  let cString: ID
  let fileAccessClass: ID
  let linkCreateClass: ID

  /// Files tried in order: Debian's serial flavour (1.10: `libhdf5_serial.so.103`,
  /// and the -dev package's link), upstream sonames of 1.10, 1.12 and 1.14, then
  /// unversioned names. `RESNET_BENCH_HDF5_LIBRARY`, when set, replaces the list.
  static let candidates = [
    "libhdf5_serial.so.103", "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
    "/usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.so",
    "libhdf5.so.103", "libhdf5_serial.so.200", "libhdf5.so.200", "libhdf5_serial.so.310", "libhdf5.so.310",
    "libhdf5.so", "/usr/lib64/libhdf5.so", "/usr/local/lib/libhdf5.so",
  ]

  /// The process's libhdf5, or the one-line reason there is none.
  static let shared: Result<HDF5Library, WeightsFileError> = load(
    candidates: ProcessInfo.processInfo.environment["RESNET_BENCH_HDF5_LIBRARY"].map { [$0] } ?? candidates)

  /// libhdf5 builds without `--enable-threadsafe` are not reentrant, so every
  /// use in this process goes through `serialized`.
  private static let lock = NSLock()

  /// Opens the first of `candidates` that loads, exports every function used
  /// here and is version 1.10 or later.
  static func load(candidates: [String]) -> Result<HDF5Library, WeightsFileError> {
    var failures: [String] = []
    for candidate in candidates {
      guard let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) else {
        failures.append(dlerror().map { String(cString: $0) } ?? "\(candidate): cannot open")
        continue
      }
      do {
        return .success(try HDF5Library(handle: handle))
      } catch let missing as MissingSymbol {
        failures.append("\(candidate) lacks \(missing.name)")
        dlclose(handle)
      } catch {
        // Not closed: once called, libhdf5 has registered exit-time cleanup
        // that must stay mapped.
        failures.append("\(candidate): \(error)")
      }
    }
    return .failure(WeightsFileError("libhdf5 not loadable (\(failures.last ?? "no candidate library")); install libhdf5-dev"))
  }

  private struct MissingSymbol: Error { let name: String }

  private init(handle: UnsafeMutableRawPointer) throws {
    func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
      guard let address = dlsym(handle, name) else { throw MissingSymbol(name: name) }
      return address
    }
    func function<T>(_ name: String) throws -> T { unsafeBitCast(try symbol(name), to: T.self) }

    H5open = try function("H5open")
    H5get_libversion = try function("H5get_libversion")
    H5Eset_auto2 = try function("H5Eset_auto2")
    H5Ewalk2 = try function("H5Ewalk2")
    H5Fopen = try function("H5Fopen")
    H5Fcreate = try function("H5Fcreate")
    H5Fclose = try function("H5Fclose")
    H5Pcreate = try function("H5Pcreate")
    H5Pclose = try function("H5Pclose")
    H5Pset_fclose_degree = try function("H5Pset_fclose_degree")
    H5Pset_create_intermediate_group = try function("H5Pset_create_intermediate_group")
    H5Gopen2 = try function("H5Gopen2")
    H5Gcreate2 = try function("H5Gcreate2")
    H5Gclose = try function("H5Gclose")
    H5Lexists = try function("H5Lexists")
    H5Aexists = try function("H5Aexists")
    H5Aopen = try function("H5Aopen")
    H5Acreate2 = try function("H5Acreate2")
    H5Aread = try function("H5Aread")
    H5Awrite = try function("H5Awrite")
    H5Aget_type = try function("H5Aget_type")
    H5Aget_space = try function("H5Aget_space")
    H5Aclose = try function("H5Aclose")
    H5Dopen2 = try function("H5Dopen2")
    H5Dcreate2 = try function("H5Dcreate2")
    H5Dread = try function("H5Dread")
    H5Dwrite = try function("H5Dwrite")
    H5Dget_type = try function("H5Dget_type")
    H5Dget_space = try function("H5Dget_space")
    H5Dclose = try function("H5Dclose")
    H5Dget_storage_size = try function("H5Dget_storage_size")
    reclaimVariableLength = try (try? function("H5Treclaim")) ?? function("H5Dvlen_reclaim")
    H5Screate = try function("H5Screate")
    H5Screate_simple = try function("H5Screate_simple")
    H5Sget_simple_extent_type = try function("H5Sget_simple_extent_type")
    H5Sget_simple_extent_ndims = try function("H5Sget_simple_extent_ndims")
    H5Sget_simple_extent_dims = try function("H5Sget_simple_extent_dims")
    H5Sget_simple_extent_npoints = try function("H5Sget_simple_extent_npoints")
    H5Sclose = try function("H5Sclose")
    H5Tcopy = try function("H5Tcopy")
    H5Tclose = try function("H5Tclose")
    H5Tget_class = try function("H5Tget_class")
    H5Tget_size = try function("H5Tget_size")
    H5Tset_size = try function("H5Tset_size")
    H5Tget_sign = try function("H5Tget_sign")
    H5Tis_variable_str = try function("H5Tis_variable_str")
    H5Tget_cset = try function("H5Tget_cset")
    H5Tset_cset = try function("H5Tset_cset")
    H5Tget_strpad = try function("H5Tget_strpad")
    H5Tset_strpad = try function("H5Tset_strpad")
    let variables = try ["H5T_NATIVE_FLOAT_g", "H5T_IEEE_F32LE_g", "H5T_C_S1_g", "H5P_CLS_FILE_ACCESS_ID_g", "H5P_CLS_LINK_CREATE_ID_g"]
      .map { try symbol($0).assumingMemoryBound(to: ID.self) }

    var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
    guard H5get_libversion(&major, &minor, &release) >= 0 else { throw WeightsFileError("H5get_libversion failed") }
    guard major > 1 || (major == 1 && minor >= 10) else {
      throw WeightsFileError("version \(major).\(minor).\(release) is older than 1.10, whose identifiers are 64-bit")
    }
    guard H5open() >= 0 else { throw WeightsFileError("H5open failed") }
    nativeFloat = variables[0].pointee
    littleEndianFloat = variables[1].pointee
    cString = variables[2].pointee
    fileAccessClass = variables[3].pointee
    linkCreateClass = variables[4].pointee
  }

  /// Runs `body` holding the process-wide lock, with libhdf5's automatic error
  /// printing off (so a bad file yields only the caller's one line). It is set
  /// on every use because thread-safe builds keep one error stack per thread.
  func serialized<T>(_ body: () throws -> T) rethrows -> T {
    Self.lock.lock()
    defer { Self.lock.unlock() }
    _ = H5Eset_auto2(Self.defaultErrorStack, nil, nil)
    return try body()
  }

  /// The most specific message on this thread's error stack, which holds what
  /// the last failing call reported, flattened to one line.
  func errorDetail() -> String {
    var detail: String?
    _ = withUnsafeMutablePointer(to: &detail) { context in
      H5Ewalk2(Self.defaultErrorStack, Self.walkUpward, { depth, record, context in
        if depth == 0, let record, let context,
           let text = record.load(fromByteOffset: HDF5Library.errorDescriptionOffset, as: UnsafePointer<CChar>?.self) {
          context.assumingMemoryBound(to: String?.self).pointee = String(cString: text)
        }
        return 0
      }, context)
    }
    return detail.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") } ?? "no detail from libhdf5"
  }

  /// `id` when it is a valid identifier, else a failure naming `what` with libhdf5's reason.
  func valid(_ id: ID, _ what: @autoclosure () -> String) throws -> ID {
    guard id >= 0 else { throw HDF5Failure("\(what()) (\(errorDetail()))") }
    return id
  }

  /// Throws a failure naming `what` with libhdf5's reason when `status` is negative.
  func check(_ status: Status, _ what: @autoclosure () -> String) throws {
    guard status >= 0 else { throw HDF5Failure("\(what()) (\(errorDetail()))") }
  }

  /// Whether every link along `path` (relative to `location`, components
  /// separated by `/`) exists. `H5Lexists` checks only the last component
  /// and fails when an earlier one is missing, so each prefix is checked.
  func linkExists(_ path: String, in location: ID) -> Bool {
    let components = path.split(separator: "/")
    guard !components.isEmpty else { return false }
    var prefix = path.hasPrefix("/") ? "/" : ""
    for (index, component) in components.enumerated() {
      prefix += (index == 0 ? "" : "/") + component
      guard H5Lexists(location, prefix, Self.defaultList) > 0 else { return false }
    }
    return true
  }

  /// A file-access property list whose file close also closes any object
  /// still open in it, so the file is complete on disk (or released) when
  /// `H5Fclose` returns even if an error path left an identifier open.
  func strongCloseAccessList() throws -> ID {
    let list = try valid(H5Pcreate(fileAccessClass), "cannot create a file-access property list")
    do {
      try check(H5Pset_fclose_degree(list, Self.closeStrong), "cannot set the file close degree")
    } catch {
      _ = H5Pclose(list)
      throw error
    }
    return list
  }

  /// The numpy-style name of an HDF5 datatype for messages: `float64`, `int32`, `uint8`, `string`…
  func typeName(_ type: ID) -> String {
    let bytes = H5Tget_size(type)
    let bits = bytes > 0 && bytes <= Int.max / 8 ? "\(bytes * 8)" : "?"
    switch H5Tget_class(type) {
    case Self.integerClass: return (H5Tget_sign(type) == Self.unsignedSign ? "uint" : "int") + bits
    case Self.floatClass: return "float" + bits
    case Self.stringClass: return "string"
    case let typeClass:
      let names = [2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 8: "enum", 9: "variable-length", 10: "array"]
      return names[Int(typeClass)] ?? "type class \(typeClass)"
    }
  }
}

/// A libhdf5 call that failed, or file contents it cannot use; the caller
/// prefixes the file path.
struct HDF5Failure: Error {
  let message: String
  init(_ message: String) { self.message = message }
}

import ConvBackends

enum ConvBackendsThreads {
  static func apply(_ threads: Int) { BackendRegistry.setLibraryThreads(threads) }
}

import Foundation
@testable import PLMData

/// Shared helpers for the HDF5 test files.
enum HDF5TestSupport {
    /// A fresh empty directory under the system temp directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("plm-hdf5-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A path for a new file `name` in a fresh temp directory.
    static func temporaryPath(_ name: String) throws -> String {
        try temporaryDirectory().appendingPathComponent(name).path
    }

    /// Path of a file in Tests/PLMDataTests/Fixtures/hdf5.
    static func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/hdf5/\(name)").path
    }

    /// The HDF5Error thrown by `body`, or nil (also nil for other error types).
    static func hdf5Error(_ body: () throws -> Void) -> HDF5Error? {
        do { try body() } catch let e as HDF5Error { return e } catch { return nil }
        return nil
    }

    /// residue[i, k] = (i*cr + k)*a + b ; pair[i, j, k] = ((i*L + j)*cp + k)*c + d, in Float
    /// (all values exact in float32; same formula as scripts/reference/hdf5/make_fixtures.py).
    static func formulaFeatures(L: Int, kind: SeqDanceFeatureKind, _ a: Double, _ b: Double, _ c: Double, _ d: Double)
        -> (residue: HDF5Array<Float>, pair: HDF5Array<Float>) {
        let cr = kind.residueChannels, cp = kind.pairChannels
        let res = (0 ..< L * cr).map { Float(Double($0) * a + b) }
        let pair = (0 ..< L * L * cp).map { Float(Double($0) * c + d) }
        return (HDF5Array(shape: [L, cr], values: res), HDF5Array(shape: [L, L, cp], values: pair))
    }
}

import Foundation

/// One trajectory frame: coordinates in Angstrom plus the per-frame metadata the format stores.
public struct TrajectoryFrame: Sendable {
    /// 0-based frame index in the file.
    public var index: Int
    /// Coordinates [atomCount * 3] as x0, y0, z0, x1, ... in Angstrom (XTC nm values are multiplied by 10).
    public var positions: [Float]
    /// Simulation time in ps (XTC); nil for DCD, which stores none.
    public var time: Double?
    /// MD step number (XTC); nil for DCD.
    public var step: Int?
    /// Unit cell (Angstrom, degrees); nil when the file stores none (or an all-zero XTC box).
    public var unitCell: UnitCell?
    /// Box vectors as rows [9] in Angstrom: as stored for XTC, built from the cell for DCD.
    public var boxVectors: [Double]?
    /// XTC compression precision (1/nm, usually 1000); nil for DCD and uncompressed XTC frames.
    public var precision: Float?

    /// An empty frame to be filled by `TrajectoryReader.readNextFrame(into:)`.
    public init(atomCount: Int = 0) {
        index = -1
        positions = [Float](repeating: 0, count: atomCount * 3)
    }

    /// Number of atoms in the frame.
    public var atomCount: Int { positions.count / 3 }

    /// Position of one atom in Angstrom.
    public func position(ofAtom i: Int) -> SIMD3<Float> {
        SIMD3(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2])
    }
}

/// A trajectory file read one frame at a time with bounded memory.
///
/// Readers are classes that own an open file; they are not thread-safe. `nextFrame()`
/// returns nil at a clean end of file and throws `StructureIOError.truncated` /
/// `.corrupt` (naming frame index and byte offset) for damaged data; frames before the
/// damage are returned normally.
public protocol TrajectoryReader: AnyObject {
    /// The file being read.
    var url: URL { get }
    /// Atoms per frame.
    var atomCount: Int { get }
    /// Index of the frame the next read returns.
    var nextFrameIndex: Int { get }
    /// Reads the next frame into `frame`, reusing its storage; false at end of file.
    func readNextFrame(into frame: inout TrajectoryFrame) throws -> Bool
    /// Number of frames (DCD: from the file size; XTC: one header scan, cached).
    func frameCount() throws -> Int
    /// Positions the reader so the next read returns frame `index` (0-based).
    func seek(toFrame index: Int) throws
}

extension TrajectoryReader {
    /// Reads the next frame, or nil at end of file.
    public func nextFrame() throws -> TrajectoryFrame? {
        var frame = TrajectoryFrame(atomCount: atomCount)
        return try readNextFrame(into: &frame) ? frame : nil
    }

    /// Reads frame `index` (seeks, then reads).
    public func frame(at index: Int) throws -> TrajectoryFrame {
        try seek(toFrame: index)
        guard let f = try nextFrame() else {
            throw StructureIOError.frameOutOfRange(file: url.lastPathComponent, frame: index,
                                                   frameCount: try frameCount())
        }
        return f
    }

    /// Calls `body` for every frame from the current position on, reusing one frame buffer.
    public func forEachFrame(_ body: (TrajectoryFrame) throws -> Void) throws {
        var frame = TrajectoryFrame(atomCount: atomCount)
        while try readNextFrame(into: &frame) { try body(frame) }
    }

    /// Reads every frame from the start of the file (loads them all: for small files and tests).
    public func readAll() throws -> [TrajectoryFrame] {
        try seek(toFrame: 0)
        var frames: [TrajectoryFrame] = []
        while let f = try nextFrame() { frames.append(f) }
        return frames
    }
}

/// Opens a trajectory by extension: `.dcd` -> `DCDReader`, `.xtc` -> `XTCReader`.
public func openTrajectory(_ url: URL) throws -> any TrajectoryReader {
    switch url.pathExtension.lowercased() {
    case "dcd": return try DCDReader(url: url)
    case "xtc": return try XTCReader(url: url)
    default: throw StructureIOError.unknownFormat(path: url.path, expected: ".dcd or .xtc")
    }
}

/// Throws `StructureIOError.atomCountMismatch` unless topology and trajectory have the same number of atoms.
public func checkAtomCounts(topology: StructureModel, topologyName: String,
                            trajectory: any TrajectoryReader) throws {
    if topology.atomCount != trajectory.atomCount {
        throw StructureIOError.atomCountMismatch(topology: topologyName, topologyAtoms: topology.atomCount,
                                                 trajectory: trajectory.url.lastPathComponent,
                                                 trajectoryAtoms: trajectory.atomCount)
    }
}

extension Structure {
    /// Throws `StructureIOError.atomCountMismatch` unless the model at `modelIndex` matches the trajectory's atom count.
    public func checkCompatible(with trajectory: any TrajectoryReader, modelIndex: Int = 0) throws {
        try checkAtomCounts(topology: try model(at: modelIndex), topologyName: sourceName, trajectory: trajectory)
    }
}

/// Largest coordinate magnitude (Angstrom) a trajectory frame may hold. Real systems are far
/// smaller; anything beyond (or NaN / infinity) means a damaged file or a bad XTC precision,
/// and would otherwise poison every feature of the protein.
public let maxTrajectoryCoordinate: Float = 1e6

/// Throws `StructureIOError.corrupt` naming the file, frame, byte offset, atom and axis of the
/// first coordinate that is not finite or lies beyond `maxTrajectoryCoordinate`.
func validateCoordinates(_ positions: [Float], file: String, frame: Int, offset: Int) throws {
    try positions.withUnsafeBufferPointer { p in
        for k in 0 ..< p.count where !(abs(p[k]) <= maxTrajectoryCoordinate) {
            throw StructureIOError.corrupt(file: file, frame: frame, offset: offset,
                                           message: "atom \(k / 3 + 1) \(["x", "y", "z"][k % 3]) = \(p[k]) Angstrom is not a finite coordinate within ±1e6")
        }
    }
}

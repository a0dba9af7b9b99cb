import Foundation

/// Errors thrown by the structure and trajectory readers; every case names the file and the position.
///
/// Text formats (PDB, mmCIF) report a 1-based line number; binary formats (DCD, XTC)
/// report the 0-based frame index (when the problem is inside a frame) and the byte offset.
public enum StructureIOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or read.
    case readFailed(path: String, reason: String)
    /// The file extension does not name a supported format.
    case unknownFormat(path: String, expected: String)
    /// A text record is malformed (PDB/mmCIF); `line` is 1-based.
    case malformedText(file: String, line: Int, message: String)
    /// A binary file ends before a record or frame is complete.
    case truncated(file: String, frame: Int?, offset: Int, message: String)
    /// A binary file holds values that cannot be right (bad magic, record marker, sizes).
    case corrupt(file: String, frame: Int?, offset: Int, message: String)
    /// The file is valid but uses a feature this reader does not support.
    case unsupported(file: String, message: String)
    /// A frame index outside `0..<frameCount` was requested.
    case frameOutOfRange(file: String, frame: Int, frameCount: Int)
    /// Topology and trajectory disagree on the number of atoms.
    case atomCountMismatch(topology: String, topologyAtoms: Int, trajectory: String, trajectoryAtoms: Int)
    /// The structure holds no model / chain asked for.
    case notFound(file: String, what: String)

    /// A one-line human-readable message naming file and position.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .readFailed(let path, let reason):
            return "\(path): cannot read file: \(reason)"
        case .unknownFormat(let path, let expected):
            return "\(path): unknown file format (expected \(expected))"
        case .malformedText(let file, let line, let message):
            return "\(file):\(line): \(message)"
        case .truncated(let file, let frame, let offset, let message):
            return "\(file): truncated\(Self.framePart(frame)) at byte offset \(offset): \(message)"
        case .corrupt(let file, let frame, let offset, let message):
            return "\(file): corrupt data\(Self.framePart(frame)) at byte offset \(offset): \(message)"
        case .unsupported(let file, let message):
            return "\(file): unsupported: \(message)"
        case .frameOutOfRange(let file, let frame, let count):
            return "\(file): frame \(frame) out of range (file has \(count) frames)"
        case .atomCountMismatch(let top, let nTop, let traj, let nTraj):
            return "atom count mismatch: topology \(top) has \(nTop) atoms, trajectory \(traj) has \(nTraj)"
        case .notFound(let file, let what):
            return "\(file): \(what) not found"
        }
    }

    private static func framePart(_ frame: Int?) -> String {
        frame.map { " in frame \($0)" } ?? ""
    }
}

extension StructureIOError: LocalizedError {
    public var errorDescription: String? { description }
}

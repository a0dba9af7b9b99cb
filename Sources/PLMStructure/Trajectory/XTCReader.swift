import Foundation

/// Streams frames from a GROMACS XTC trajectory, converting nm to Angstrom.
///
/// Every frame is self-contained (big-endian XDR): magic 1995, natoms, step,
/// time (ps, float32), box (3x3 float32, nm, rows = box vectors), natoms again, then
/// either `natoms * 3` plain float32 (natoms <= 9) or the compressed block
/// (precision, min/max integer coordinates, smallidx, byte count, bytes padded to 4).
/// Positions come out as `Float(nm) * 10` (Angstrom), where `Float(nm)` is exactly
/// what xdrfile/MDTraj return; the box is converted the same way. XTC precision is
/// usually 1000 per nm, i.e. coordinates are rounded to 0.001 nm = 0.01 Angstrom.
/// The GROMACS 2023 large-file variant (magic 2023) is rejected as unsupported.
public final class XTCReader: TrajectoryReader {
    /// The file being read.
    public let url: URL
    /// Atoms per frame (from the first frame).
    public let atomCount: Int
    /// Index of the frame the next read returns.
    public private(set) var nextFrameIndex = 0

    static let magic: Int32 = 1995
    static let headerBytes = 56      // magic, natoms, step, time, box[9], natoms
    static let compressedHeaderBytes = 92  // + precision, minint[3], maxint[3], smallidx, byte count

    private let file: BinaryFile
    /// offsets[i] = byte offset of frame i, for every frame located so far (+ the end offset once known).
    private var offsets: [Int] = [0]
    private var reachedEnd = false
    private var header = [UInt8](repeating: 0, count: 92)
    private var data: [UInt8] = []

    /// Layout of one frame, from its header.
    private struct FrameInfo {
        var natoms: Int
        var step: Int
        var time: Float
        var box: [Float]          // 9, nm
        var precision: Float?     // nil for uncompressed frames
        var minInt: (Int32, Int32, Int32) = (0, 0, 0)
        var maxInt: (Int32, Int32, Int32) = (0, 0, 0)
        var smallIndex: Int32 = 0
        var dataOffset: Int       // relative to the frame start
        var dataBytes: Int        // bytes to decode (without padding)
        var size: Int             // total frame size
    }

    /// Opens an XTC file and reads the first frame header to learn the atom count.
    public init(url: URL) throws {
        self.url = url
        file = try BinaryFile(url: url)
        guard file.size > 0 else {
            throw StructureIOError.truncated(file: file.name, frame: 0, offset: 0, message: "empty XTC file")
        }
        var tmp = [UInt8](repeating: 0, count: 8)
        try file.readExactly(into: &tmp, count: 8, at: 0, frame: 0, what: "XTC frame header")
        let (m, n) = tmp.withUnsafeBytes { (ByteOrder.big.int32($0.baseAddress!, 0), ByteOrder.big.int32($0.baseAddress!, 4)) }
        try XTCReader.checkMagic(m, file: file.name, frame: 0, offset: 0)
        guard n > 0 else {
            throw StructureIOError.corrupt(file: file.name, frame: 0, offset: 4, message: "atom count is \(n)")
        }
        atomCount = Int(n)
    }

    static func checkMagic(_ m: Int32, file: String, frame: Int, offset: Int) throws {
        if m == magic { return }
        if m == 2023 {
            throw StructureIOError.unsupported(file: file, message: "XTC magic 2023 (GROMACS 2023 large-system format)")
        }
        throw StructureIOError.corrupt(file: file, frame: frame, offset: offset,
                                       message: "bad XTC magic number \(m), expected 1995")
    }

    /// Reads and validates the header of the frame at `offset`; nil at a clean end of file.
    private func readHeader(frame: Int, at offset: Int) throws -> FrameInfo? {
        let available = file.size - offset
        if available <= 0 { return nil }
        let n = min(available, XTCReader.compressedHeaderBytes)
        let got = try header.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: n, at: offset) }
        let name = file.name
        if got < 8 || (got < XTCReader.headerBytes) {
            if got >= 4 {
                let m = header.withUnsafeBytes { ByteOrder.big.int32($0.baseAddress!, 0) }
                try XTCReader.checkMagic(m, file: name, frame: frame, offset: offset)
            }
            throw StructureIOError.truncated(file: name, frame: frame, offset: offset + got,
                                             message: "frame header needs \(XTCReader.headerBytes) bytes, file ends after \(got)")
        }
        return try header.withUnsafeBytes { raw -> FrameInfo in
            let p = raw.baseAddress!
            let be = ByteOrder.big
            try XTCReader.checkMagic(be.int32(p, 0), file: name, frame: frame, offset: offset)
            let natoms = Int(be.int32(p, 4))
            guard natoms == atomCount else {
                throw StructureIOError.corrupt(file: name, frame: frame, offset: offset + 4,
                                               message: "frame has \(natoms) atoms, first frame has \(atomCount)")
            }
            let natoms2 = Int(be.int32(p, 52))
            guard natoms2 == natoms else {
                throw StructureIOError.corrupt(file: name, frame: frame, offset: offset + 52,
                                               message: "coordinate block has \(natoms2) atoms, header says \(natoms)")
            }
            var info = FrameInfo(natoms: natoms, step: Int(be.int32(p, 8)), time: be.float32(p, 12),
                                 box: (0..<9).map { be.float32(p, 16 + 4 * $0) }, precision: nil,
                                 dataOffset: XTCReader.headerBytes, dataBytes: 12 * natoms,
                                 size: XTCReader.headerBytes + 12 * natoms)
            if natoms > 9 {
                guard got >= XTCReader.compressedHeaderBytes else {
                    throw StructureIOError.truncated(file: name, frame: frame, offset: offset + got,
                                                     message: "compressed-coordinate header needs \(XTCReader.compressedHeaderBytes) bytes, file ends after \(got)")
                }
                let precision = be.float32(p, 56)
                guard precision > 0, precision.isFinite else {
                    throw StructureIOError.corrupt(file: name, frame: frame, offset: offset + 56,
                                                   message: "precision \(precision) is not positive")
                }
                info.precision = precision
                info.minInt = (be.int32(p, 60), be.int32(p, 64), be.int32(p, 68))
                info.maxInt = (be.int32(p, 72), be.int32(p, 76), be.int32(p, 80))
                info.smallIndex = be.int32(p, 84)
                let byteCount = Int(be.int32(p, 88))
                guard byteCount > 0 else {
                    throw StructureIOError.corrupt(file: name, frame: frame, offset: offset + 88,
                                                   message: "compressed byte count is \(byteCount)")
                }
                info.dataOffset = XTCReader.compressedHeaderBytes
                info.dataBytes = byteCount
                info.size = XTCReader.compressedHeaderBytes + ((byteCount + 3) & ~3)
            }
            return info
        }
    }

    /// Reads the next frame into `frame`; false at end of file.
    public func readNextFrame(into frame: inout TrajectoryFrame) throws -> Bool {
        let index = nextFrameIndex
        try locate(frame: index)
        guard index < offsets.count else { return false }
        let offset = offsets[index]
        guard let info = try readHeader(frame: index, at: offset) else {
            reachedEnd = true
            return false
        }
        try file.readExactly(into: &data, count: info.size - info.dataOffset, at: offset + info.dataOffset,
                             frame: index, what: "XTC coordinate block")
        let n = info.natoms
        if frame.positions.count != 3 * n { frame.positions = [Float](repeating: 0, count: 3 * n) }
        let name = file.name
        if let precision = info.precision {
            try data.withUnsafeBytes { raw in
                try frame.positions.withUnsafeMutableBufferPointer { out in
                    do {
                        try XTCCompression.decode(data: UnsafeRawBufferPointer(rebasing: raw[0..<info.dataBytes]),
                                                  natoms: n, precision: precision, minInt: info.minInt,
                                                  maxInt: info.maxInt, smallIndex: info.smallIndex, scale: 10,
                                                  out: out.baseAddress!)
                    } catch let e as XTCCompression.DecodeError {
                        throw StructureIOError.corrupt(file: name, frame: index, offset: offset + info.dataOffset,
                                                       message: "compressed coordinates: \(e.message)")
                    }
                }
            }
        } else {
            data.withUnsafeBytes { raw in
                let p = raw.baseAddress!
                for k in 0..<(3 * n) { frame.positions[k] = ByteOrder.big.float32(p, 4 * k) * 10 }
            }
        }
        try validateCoordinates(frame.positions, file: name, frame: index, offset: offset + info.dataOffset)
        frame.index = index
        frame.time = Double(info.time)
        frame.step = info.step
        frame.precision = info.precision
        let box = info.box.map { Double($0 * 10) }
        if box.allSatisfy({ $0 == 0 }) {
            frame.boxVectors = nil
            frame.unitCell = nil
        } else {
            frame.boxVectors = box
            frame.unitCell = UnitCell(vectors: [SIMD3(box[0], box[1], box[2]), SIMD3(box[3], box[4], box[5]),
                                                SIMD3(box[6], box[7], box[8])])
        }
        if offsets.count == index + 1 { offsets.append(offset + info.size) }
        nextFrameIndex = index + 1
        return true
    }

    /// Scans frame headers until frame `index` is located or the file ends.
    private func locate(frame index: Int) throws {
        while offsets.count <= index && !reachedEnd {
            let k = offsets.count - 1
            guard let info = try readHeader(frame: k, at: offsets[k]) else { reachedEnd = true; break }
            let end = offsets[k] + info.size
            if end > file.size {
                throw StructureIOError.truncated(file: file.name, frame: k, offset: file.size,
                                                 message: "frame needs \(info.size) bytes from offset \(offsets[k]), file ends after \(file.size - offsets[k])")
            }
            offsets.append(end)
        }
    }

    /// Number of frames: scans all frame headers once (cached); throws if the last frame is truncated.
    public func frameCount() throws -> Int {
        try locate(frame: Int.max - 1)
        return offsets.count - 1
    }

    /// Positions the reader so the next read returns frame `index`.
    public func seek(toFrame index: Int) throws {
        guard index >= 0 else {
            throw StructureIOError.frameOutOfRange(file: file.name, frame: index, frameCount: try frameCount())
        }
        try locate(frame: index)
        guard index < offsets.count else {
            throw StructureIOError.frameOutOfRange(file: file.name, frame: index, frameCount: offsets.count - 1)
        }
        nextFrameIndex = index
    }
}

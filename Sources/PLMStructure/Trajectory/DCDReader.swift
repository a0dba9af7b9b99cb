import Foundation

/// Header of a DCD file (CHARMM / NAMD / X-PLOR flavour).
public struct DCDHeader: Hashable, Sendable {
    /// True when the file is big-endian (detected from the first record marker).
    public var isBigEndian: Bool
    /// NSET: frame count written in the header (may be stale; `DCDReader.frameCount()` uses the file size).
    public var framesInHeader: Int
    /// ISTART: first step.
    public var firstStep: Int
    /// NSAVC: steps between frames.
    public var stepInterval: Int
    /// DELTA: integration time step as stored (AKMA units for CHARMM; a placeholder in MDTraj/VMD files).
    public var timeStep: Double
    /// CHARMM version field (0 = X-PLOR flavour: no unit cell, float64 DELTA).
    public var charmmVersion: Int
    /// True when every frame starts with a 48-byte unit-cell record.
    public var hasUnitCell: Bool
    /// True when frames carry a fourth coordinate block (CHARMM 4D dynamics); it is skipped.
    public var hasFourthDimension: Bool
    /// Title lines, each cut at the first NUL or newline.
    public var titles: [String]
    /// Atoms per frame.
    public var atomCount: Int
    /// Byte offset of the first frame.
    public var headerSize: Int
}

/// Streams frames from a DCD trajectory (coordinates in Angstrom).
///
/// Layout: Fortran unformatted records, each framed by a 4-byte length marker.
/// Header records: 84 bytes (`CORD` + 20 int32 control words), titles, atom count.
/// Each frame: optional unit-cell record of 6 float64 in the order A, cos(gamma), B,
/// cos(beta), cos(alpha), C (angles given as cosines when all three lie in [-1, 1],
/// else in degrees, the NAMD 2.5 convention), then X, Y and Z blocks of float32
/// (and a skipped W block for 4D files). Either byte order is accepted; 64-bit record
/// markers and fixed-atom files are rejected with `.unsupported`.
public final class DCDReader: TrajectoryReader {
    /// The file being read.
    public let url: URL
    /// Parsed header.
    public let header: DCDHeader
    /// Atoms per frame.
    public var atomCount: Int { header.atomCount }
    /// Index of the frame the next read returns.
    public private(set) var nextFrameIndex = 0
    /// Bytes per frame, markers included.
    public let frameSize: Int

    private let file: BinaryFile
    private let order: ByteOrder
    private var buffer: [UInt8] = []

    /// Opens a DCD file and parses its header.
    public init(url: URL) throws {
        self.url = url
        file = try BinaryFile(url: url)
        (header, order) = try DCDReader.parseHeader(file)
        let n = header.atomCount
        frameSize = (header.hasUnitCell ? 56 : 0) + (header.hasFourthDimension ? 4 : 3) * (8 + 4 * n)
        buffer = [UInt8](repeating: 0, count: frameSize)
    }

    /// Number of complete frames (from the file size); throws `.truncated` if the last frame is incomplete.
    public func frameCount() throws -> Int {
        let body = file.size - header.headerSize
        let complete = body / frameSize
        let rest = body % frameSize
        if rest != 0 {
            throw StructureIOError.truncated(file: file.name, frame: complete,
                                             offset: header.headerSize + complete * frameSize,
                                             message: "last frame has \(rest) of \(frameSize) bytes")
        }
        return complete
    }

    /// Positions the reader at frame `index` (a byte offset computation; no I/O).
    public func seek(toFrame index: Int) throws {
        let count = (file.size - header.headerSize) / frameSize
        guard index >= 0 && index <= count else {
            throw StructureIOError.frameOutOfRange(file: file.name, frame: index, frameCount: count)
        }
        nextFrameIndex = index
    }

    /// Reads the next frame into `frame`; false at end of file.
    public func readNextFrame(into frame: inout TrajectoryFrame) throws -> Bool {
        let index = nextFrameIndex
        let offset = header.headerSize + index * frameSize
        if offset >= file.size { return false }
        try file.readExactly(into: &buffer, count: frameSize, at: offset, frame: index, what: "DCD frame")
        let n = header.atomCount
        if frame.positions.count != 3 * n { frame.positions = [Float](repeating: 0, count: 3 * n) }
        var cell: UnitCell? = nil
        try buffer.withUnsafeBytes { raw in
            let p = raw.baseAddress!
            var o = 0
            func expectMarker(_ at: Int, _ value: Int, _ what: String) throws {
                let m = Int(order.int32(p, at))
                if m != value {
                    throw StructureIOError.corrupt(file: file.name, frame: index, offset: offset + at,
                                                   message: "\(what) record marker is \(m), expected \(value)")
                }
            }
            if header.hasUnitCell {
                try expectMarker(0, 48, "unit-cell")
                var u = [Double](repeating: 0, count: 6)
                for k in 0..<6 { u[k] = order.float64(p, 4 + 8 * k) }
                try expectMarker(52, 48, "unit-cell end")
                cell = DCDReader.unitCell(u)
                o = 56
            }
            try frame.positions.withUnsafeMutableBufferPointer { out in
                let blockBytes = 4 * n
                for d in 0..<3 {
                    try expectMarker(o, blockBytes, ["X", "Y", "Z"][d])
                    let base = o + 4
                    for i in 0..<n { out[3 * i + d] = order.float32(p, base + 4 * i) }
                    try expectMarker(base + blockBytes, blockBytes, ["X", "Y", "Z"][d] + " end")
                    o = base + blockBytes + 4
                }
                if header.hasFourthDimension {
                    try expectMarker(o, blockBytes, "W (4th dimension)")
                    try expectMarker(o + 4 + blockBytes, blockBytes, "W end")
                }
            }
        }
        try validateCoordinates(frame.positions, file: file.name, frame: index, offset: offset)
        frame.index = index
        frame.time = nil
        frame.step = nil
        frame.precision = nil
        frame.unitCell = cell
        frame.boxVectors = cell.map { c in c.vectors.flatMap { [$0.x, $0.y, $0.z] } }
        nextFrameIndex = index + 1
        return true
    }

    /// Converts the 6 stored unit-cell values to a cell (nil when all lengths are zero).
    static func unitCell(_ u: [Double]) -> UnitCell? {
        let a = u[0], b = u[2], c = u[5]
        if a == 0 && b == 0 && c == 0 { return nil }
        let cosGamma = u[1], cosBeta = u[3], cosAlpha = u[4]
        let asCosines = [cosAlpha, cosBeta, cosGamma].allSatisfy { $0 >= -1 && $0 <= 1 }
        func angle(_ v: Double) -> Double {
            // 90 - asin(cos) keeps orthogonal cells at exactly 90 degrees (acos(0) would not).
            asCosines ? 90 - asin(v) * 180 / Double.pi : v
        }
        return UnitCell(a: a, b: b, c: c, alpha: angle(cosAlpha), beta: angle(cosBeta), gamma: angle(cosGamma))
    }

    static func parseHeader(_ file: BinaryFile) throws -> (DCDHeader, ByteOrder) {
        var buf: [UInt8] = []
        let name = file.name
        try file.readExactly(into: &buf, count: 92, at: 0, frame: nil, what: "DCD header record")
        let (order, cordOK, control) = try buf.withUnsafeBytes { raw -> (ByteOrder, Bool, [Int32]) in
            let p = raw.baseAddress!
            let order: ByteOrder
            let cordAt8 = raw[8] == 0x43 && raw[9] == 0x4F && raw[10] == 0x52 && raw[11] == 0x44
            let le64 = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            let be64 = UInt64(bigEndian: p.loadUnaligned(as: UInt64.self))
            if cordAt8 && (le64 == 84 || be64 == 84) {
                throw StructureIOError.unsupported(file: name, message: "DCD with 64-bit record markers")
            }
            if ByteOrder.little.int32(p, 0) == 84 {
                order = .little
            } else if ByteOrder.big.int32(p, 0) == 84 {
                order = .big
            } else {
                throw StructureIOError.corrupt(file: name, frame: nil, offset: 0,
                                               message: "not a DCD file: first record marker is \(ByteOrder.little.int32(p, 0)) (little-endian), expected 84")
            }
            let cord = raw[4] == 0x43 && raw[5] == 0x4F && raw[6] == 0x52 && raw[7] == 0x44
            let control = (0..<20).map { order.int32(p, 8 + 4 * $0) }
            if order.int32(p, 88) != 84 {
                throw StructureIOError.corrupt(file: name, frame: nil, offset: 88,
                                               message: "header record end marker is \(order.int32(p, 88)), expected 84")
            }
            return (order, cord, control)
        }
        guard cordOK else {
            let magic = String(decoding: buf[4..<8].map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x3F }, as: UTF8.self)
            throw StructureIOError.corrupt(file: name, frame: nil, offset: 4,
                                           message: "expected 'CORD' magic, found '\(magic)'")
        }
        let charmm = Int(control[19])
        let fixed = Int(control[8])
        if fixed > 0 {
            throw StructureIOError.unsupported(file: name, message: "DCD with \(fixed) fixed atoms")
        }
        let delta: Double = buf.withUnsafeBytes { raw in
            charmm != 0 ? Double(order.float32(raw.baseAddress!, 8 + 36)) : order.float64(raw.baseAddress!, 8 + 36)
        }
        // Titles record.
        var off = 92
        try file.readExactly(into: &buf, count: 8, at: off, frame: nil, what: "DCD title record")
        let titleLen = Int(buf.withUnsafeBytes { order.int32($0.baseAddress!, 0) })
        let ntitle = Int(buf.withUnsafeBytes { order.int32($0.baseAddress!, 4) })
        guard titleLen >= 4, (titleLen - 4) % 80 == 0, ntitle >= 0, 4 + 80 * ntitle == titleLen else {
            throw StructureIOError.corrupt(file: name, frame: nil, offset: off,
                                           message: "title record length \(titleLen) does not match \(ntitle) titles of 80 bytes")
        }
        try file.readExactly(into: &buf, count: titleLen + 8, at: off, frame: nil, what: "DCD title record")
        var titles: [String] = []
        for t in 0..<ntitle {
            let s = 8 + 80 * t  // buf starts at the record's length marker
            var e = s
            while e < s + 80 && buf[e] != 0 && buf[e] != asciiNewline { e += 1 }
            var line = String(decoding: buf[s..<e], as: UTF8.self)
            while line.last == " " { line.removeLast() }
            titles.append(line)
        }
        let endMarker = Int(buf.withUnsafeBytes { order.int32($0.baseAddress!, 4 + titleLen) })
        guard endMarker == titleLen else {
            throw StructureIOError.corrupt(file: name, frame: nil, offset: off + 4 + titleLen,
                                           message: "title record end marker is \(endMarker), expected \(titleLen)")
        }
        off += titleLen + 8
        // Atom-count record.
        try file.readExactly(into: &buf, count: 12, at: off, frame: nil, what: "DCD atom-count record")
        let (m0, natoms, m1) = buf.withUnsafeBytes { raw in
            (order.int32(raw.baseAddress!, 0), order.int32(raw.baseAddress!, 4), order.int32(raw.baseAddress!, 8))
        }
        guard m0 == 4, m1 == 4 else {
            throw StructureIOError.corrupt(file: name, frame: nil, offset: off,
                                           message: "atom-count record markers are \(m0)/\(m1), expected 4")
        }
        guard natoms > 0 else {
            throw StructureIOError.corrupt(file: name, frame: nil, offset: off + 4,
                                           message: "atom count is \(natoms)")
        }
        off += 12
        let header = DCDHeader(isBigEndian: order == .big, framesInHeader: Int(control[0]),
                               firstStep: Int(control[1]), stepInterval: Int(control[2]), timeStep: delta,
                               charmmVersion: charmm, hasUnitCell: charmm != 0 && control[10] != 0,
                               hasFourthDimension: charmm != 0 && control[11] != 0, titles: titles,
                               atomCount: Int(natoms), headerSize: off)
        return (header, order)
    }
}

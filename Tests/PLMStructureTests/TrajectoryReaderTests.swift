import Foundation
import Testing
@testable import PLMStructure

/// Big-endian 32-bit read from a byte array (XTC layout helpers for the tests).
func be32(_ b: [UInt8], _ o: Int) -> Int {
    Int(Int32(bitPattern: UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])))
}

/// Byte offsets of every frame of an XTC file (from the frame headers).
func xtcFrameOffsets(_ b: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var o = 0
    while o < b.count {
        offsets.append(o)
        let natoms = be32(b, o + 4)
        o += natoms <= 9 ? 56 + 12 * natoms : 92 + ((be32(b, o + 88) + 3) & ~3)
    }
    return offsets
}

@Suite("XTC reader vs MDTraj (xdrfile)")
struct XTCReaderTests {
    @Test("trpcage XTC: times, steps, boxes and first/mid/last frames (Angstrom = 10 x MDTraj nm)")
    func trpcage() throws {
        let ref = Fixtures.trajectory("trpcage_1l2y.xtc")
        let r = try XTCReader(url: Fixtures.url("trpcage_1l2y.xtc"))
        #expect(r.atomCount == jInt(ref["n_atoms"]))
        #expect(try r.frameCount() == jInt(ref["n_frames"]))
        let frames = try r.readAll()
        #expect(frames.count == 101)
        #expect(frames.map { Float($0.time!) } == jFloats(ref["time_ps"]))
        #expect(frames.map { $0.step! } == jArray(ref["step"]).map(jInt))
        #expect(frames.allSatisfy { $0.precision == 1000 })
        let mid = jInt(ref["mid_index"])
        for (frame, key) in [(frames[0], "xyz_nm_first"), (frames[mid], "xyz_nm_mid"), (frames[100], "xyz_nm_last")] {
            let refNm = jFloats(ref[key])
            let mineNm = frame.positions.map { $0 / 10 }
            // XTC precision is 1e-3 nm; the decoder reproduces xdrfile bit for bit, so also check exact equality.
            #expect(maxAbsDiff(mineNm, refNm) <= 1e-3, "\(key)")
            #expect(frame.positions == refNm.map { $0 * 10 }, "\(key) exact: \(firstMismatch(frame.positions, refNm.map { $0 * 10 }))")
        }
        for (frame, key) in [(frames[0], "box_nm_first"), (frames[100], "box_nm_last")] {
            let box = jFloats(ref[key]).map { Double($0 * 10) }
            #expect(frame.boxVectors! == box, "\(key)")
        }
        let cell = try #require(frames[0].unitCell)
        let lengths = jDoubles(ref["cell_lengths_nm_first"]), angles = jDoubles(ref["cell_angles_first"])
        #expect(abs(cell.a - 10 * lengths[0]) < 1e-4 && abs(cell.c - 10 * lengths[2]) < 1e-4)
        #expect(abs(cell.alpha - angles[0]) < 1e-3 && abs(cell.beta - angles[1]) < 1e-3 && abs(cell.gamma - angles[2]) < 1e-3)
    }

    @Test("alanine dipeptide XTC: 501 frames from t = 500 ps, truncated-octahedron box, seeking")
    func ala2() throws {
        let ref = Fixtures.trajectory("ala2_frame0.xtc")
        let r = try openTrajectory(Fixtures.url("ala2_frame0.xtc"))
        #expect(r.atomCount == 22)
        let mid = jInt(ref["mid_index"])
        let f = try r.frame(at: mid)   // seek before any full read: header scan
        #expect(f.index == mid && r.nextFrameIndex == mid + 1)
        #expect(f.positions == jFloats(ref["xyz_nm_mid"]).map { $0 * 10 })
        #expect(Float(f.time!) == jFloats(ref["time_ps"])[mid])
        #expect(try r.frameCount() == 501)
        let last = try r.frame(at: 500)
        #expect(last.positions == jFloats(ref["xyz_nm_last"]).map { $0 * 10 })
        #expect(try r.nextFrame() == nil)
        try r.seek(toFrame: 0)
        var count = 0
        var times: [Float] = []
        try r.forEachFrame { frame in
            count += 1
            times.append(Float(frame.time!))
        }
        #expect(count == 501 && times == jFloats(ref["time_ps"]))
        let cell = try #require(f.unitCell)
        let angles = jDoubles(ref["cell_angles_first"])
        #expect(abs(cell.alpha - angles[0]) < 1e-3 && abs(cell.beta - angles[1]) < 1e-3 && abs(cell.gamma - angles[2]) < 1e-3)
        #expect(expectIOError { try r.seek(toFrame: 501 + 1) } == .frameOutOfRange(file: "ala2_frame0.xtc", frame: 502, frameCount: 501))
    }

    @Test("small-system XTC (5 atoms <= 9: stored uncompressed)")
    func smallSystem() throws {
        let ref = Fixtures.trajectory("ala2_5atoms.xtc")
        let r = try XTCReader(url: Fixtures.url("ala2_5atoms.xtc"))
        #expect(r.atomCount == 5)
        let frames = try r.readAll()
        #expect(frames.count == jInt(ref["n_frames"]))
        #expect(frames.allSatisfy { $0.precision == nil })
        #expect(frames[0].positions == jFloats(ref["xyz_nm_first"]).map { $0 * 10 })
        #expect(frames[4].positions == jFloats(ref["xyz_nm_mid"]).map { $0 * 10 })
        #expect(frames.last!.positions == jFloats(ref["xyz_nm_last"]).map { $0 * 10 })
        #expect(frames.map { Float($0.time!) } == jFloats(ref["time_ps"]))
    }
}

@Suite("DCD reader vs MDTraj (VMD dcdplugin)")
struct DCDReaderTests {
    func checkAgainstReference(_ file: String, expectCell: Bool) throws {
        let ref = Fixtures.trajectory(file)
        let r = try DCDReader(url: Fixtures.url(file))
        #expect(r.atomCount == jInt(ref["n_atoms"]))
        #expect(try r.frameCount() == jInt(ref["n_frames"]))
        #expect(r.header.hasUnitCell == expectCell && !r.header.isBigEndian && !r.header.hasFourthDimension)
        let frames = try r.readAll()
        #expect(frames.count == jInt(ref["n_frames"]))
        let mid = jInt(ref["mid_index"])
        for (frame, key) in [(frames[0], "xyz_angstrom_first"), (frames[mid], "xyz_angstrom_mid"),
                             (frames.last!, "xyz_angstrom_last")] {
            let expected = jFloats(ref[key])
            #expect(frame.positions == expected, "\(file) \(key): \(firstMismatch(frame.positions, expected))")
        }
        if expectCell {
            let lengths = jArray(ref["cell_lengths_angstrom"]).map(jDoubles)
            let angles = jArray(ref["cell_angles"]).map(jDoubles)
            for (i, f) in frames.enumerated() {
                let c = try #require(f.unitCell)
                #expect(abs(c.a - lengths[i][0]) < 1e-4 && abs(c.b - lengths[i][1]) < 1e-4 && abs(c.c - lengths[i][2]) < 1e-4)
                #expect(abs(c.alpha - angles[i][0]) < 1e-4 && abs(c.beta - angles[i][1]) < 1e-4 && abs(c.gamma - angles[i][2]) < 1e-4)
            }
        } else {
            #expect(frames.allSatisfy { $0.unitCell == nil && $0.boxVectors == nil })
        }
        #expect(frames.allSatisfy { $0.time == nil && $0.step == nil })
    }

    @Test("trpcage DCD (dodecahedral cell), exact float coordinates")
    func trpcage() throws { try checkAgainstReference("trpcage_1l2y.dcd", expectCell: true) }

    @Test("3tvj_I ATLAS excerpt (NPT box per frame), exact float coordinates, header titles")
    func atlas() throws {
        try checkAgainstReference("3tvj_I_10frames.dcd", expectCell: true)
        let r = try DCDReader(url: Fixtures.url("3tvj_I_10frames.dcd"))
        #expect(r.header.charmmVersion == 24 && r.header.framesInHeader == 10)
        #expect(r.header.titles.first == "Created by DCD plugin")
        #expect(r.header.titles.allSatisfy { !$0.contains("\0") && !$0.contains("\n") })
        let top = try PDBReader.read(contentsOf: Fixtures.url("3tvj_I.pdb"))
        try top.checkCompatible(with: r)
        #expect(top.atoms.count == jInt(jDict(Fixtures.reference["trajectories"])["3tvj_topology_atoms"]))
    }

    @Test("DCD without unit-cell records")
    func noCell() throws { try checkAgainstReference("ala2_nocell.dcd", expectCell: false) }

    @Test("big-endian DCD (byte-swapped copy) reads identically")
    func bigEndian() throws {
        let le = try Fixtures.bytes("3tvj_I_10frames.dcd")
        let url = try Fixtures.temporaryFile(swapDCDByteOrder(le), name: "big.dcd")
        let big = try DCDReader(url: url)
        #expect(big.header.isBigEndian)
        let a = try big.readAll()
        let b = try DCDReader(url: Fixtures.url("3tvj_I_10frames.dcd")).readAll()
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.positions == y.positions && x.unitCell == y.unitCell)
        }
    }

    @Test("4th-dimension DCD: the W block is skipped")
    func fourthDimension() throws {
        let src = try DCDReader(url: Fixtures.url("ala2_nocell.dcd"))
        var bytes = try Fixtures.bytes("ala2_nocell.dcd")
        // CHARMM 4D flag: control word 11 (0-based) at byte 8 + 44; the file has no unit cell.
        bytes[52] = 1
        let n = src.atomCount
        let h = src.header.headerSize
        var out = Array(bytes[0..<h])
        let frameSize = src.frameSize
        var marker = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: UInt32(4 * n).littleEndian) { marker = Array($0) }
        for f in 0..<(try src.frameCount()) {
            out += bytes[(h + f * frameSize)..<(h + (f + 1) * frameSize)]
            out += marker + [UInt8](repeating: 0x7F, count: 4 * n) + marker
        }
        let url = try Fixtures.temporaryFile(out, name: "4d.dcd")
        let r = try DCDReader(url: url)
        #expect(r.header.hasFourthDimension)
        let a = try r.readAll()
        let b = try src.readAll()
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0.positions == $1.positions })
    }

    @Test("trpcage pair: DCD == 10 x XTC for all 101 frames (same trajectory, Angstrom vs nm)")
    func pairConsistency() throws {
        let xtc = try XTCReader(url: Fixtures.url("trpcage_1l2y.xtc"))
        let dcd = try DCDReader(url: Fixtures.url("trpcage_1l2y.dcd"))
        let top = try PDBReader.read(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        try top.checkCompatible(with: xtc)
        try top.checkCompatible(with: dcd)
        #expect(top.atoms.count == jInt(jDict(Fixtures.reference["trajectories"])["trpcage_topology_atoms"]))
        var frames = 0
        var maxDiff: Float = 0
        var exact = true
        var x = TrajectoryFrame(), d = TrajectoryFrame()
        while try xtc.readNextFrame(into: &x) {
            #expect(try dcd.readNextFrame(into: &d))
            maxDiff = max(maxDiff, maxAbsDiff(x.positions, d.positions))
            exact = exact && x.positions == d.positions
            // Boxes agree to float precision (DCD stores lengths/cosines, XTC vectors).
            #expect(abs(x.unitCell!.a - d.unitCell!.a) < 1e-3 && abs(x.unitCell!.beta - d.unitCell!.beta) < 1e-3)
            frames += 1
        }
        #expect(try dcd.readNextFrame(into: &d) == false)
        #expect(frames == 101)
        #expect(maxDiff <= 0.01)   // 1e-3 nm, the XTC precision
        #expect(exact)             // MDTraj wrote the DCD as float32(10 * xtc): bit-identical
        // The topology PDB is frame 0 (t = 0 ps) written with 3 decimals.
        let first = try dcd.frame(at: 0)
        let pdbXYZ = top.firstModel.coordinates()
        #expect(maxAbsDiff(first.positions, pdbXYZ) <= 0.0051)
    }
}

/// Converts a little-endian CHARMM DCD to big-endian record by record (markers, ints, floats, doubles).
func swapDCDByteOrder(_ b: [UInt8]) -> [UInt8] {
    var out = b
    func le32(_ o: Int) -> Int { Int(Int32(bitPattern: UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24)) }
    func swapWords(_ start: Int, _ count: Int, _ width: Int) {
        for k in 0..<count {
            let o = start + k * width
            for j in 0..<width { out[o + j] = b[o + width - 1 - j] }
        }
    }
    var o = 0
    var record = 0
    while o < b.count {
        let len = le32(o)
        swapWords(o, 1, 4)
        switch record {
        case 0: swapWords(o + 8, 20, 4)                 // "CORD" stays, 20 control words
        case 1: swapWords(o + 4, 1, 4)                  // title count; text stays
        default: swapWords(o + 4, len / (len == 48 ? 8 : 4), len == 48 ? 8 : 4)
        }
        swapWords(o + 4 + len, 1, 4)
        o += len + 8
        record += 1
    }
    return out
}

@Suite("Error paths: truncated and corrupt files throw with position")
struct ErrorPathTests {
    @Test("truncated DCD: earlier frames read, the cut frame throws with frame index and offset")
    func truncatedDCD() throws {
        let src = try DCDReader(url: Fixtures.url("trpcage_1l2y.dcd"))
        let h = src.header.headerSize, f = src.frameSize
        let bytes = try Fixtures.bytes("trpcage_1l2y.dcd")
        let cut = h + 2 * f + f / 2
        let url = try Fixtures.temporaryFile(Array(bytes[0..<cut]), name: "cut.dcd")
        let r = try DCDReader(url: url)
        #expect(try r.nextFrame() != nil)
        #expect(try r.nextFrame() != nil)
        let e = expectIOError { _ = try r.nextFrame() }
        #expect(e == .truncated(file: "cut.dcd", frame: 2, offset: cut,
                                message: "DCD frame: needed \(f) bytes at offset \(h + 2 * f), file ends after \(f / 2)"))
        #expect(e?.description.contains("frame 2") == true && e?.description.contains("offset \(cut)") == true)
        let count = expectIOError { _ = try r.frameCount() }
        #expect(count == .truncated(file: "cut.dcd", frame: 2, offset: h + 2 * f, message: "last frame has \(f / 2) of \(f) bytes"))
        // Cut inside the header.
        let headerCut = try Fixtures.temporaryFile(Array(bytes[0..<150]), name: "header.dcd")
        let eh = expectIOError { _ = try DCDReader(url: headerCut) }
        if case .truncated(let file, let frame, _, _)? = eh { #expect(file == "header.dcd" && frame == nil) }
        else { Issue.record("expected truncated, got \(String(describing: eh))") }
    }

    @Test("corrupt DCD: bad magic, bad first marker, bad frame marker, 64-bit markers")
    func corruptDCD() throws {
        let bytes = try Fixtures.bytes("3tvj_I_10frames.dcd")
        var magic = bytes
        magic.replaceSubrange(4..<8, with: Array("XXXX".utf8))
        let e1 = expectIOError { _ = try DCDReader(url: Fixtures.temporaryFile(magic, name: "magic.dcd")) }
        #expect(e1 == .corrupt(file: "magic.dcd", frame: nil, offset: 4, message: "expected 'CORD' magic, found 'XXXX'"))
        var marker = bytes
        marker[0] = 85
        let e2 = expectIOError { _ = try DCDReader(url: Fixtures.temporaryFile(marker, name: "marker.dcd")) }
        #expect(e2?.description.contains("not a DCD file") == true)
        // Corrupt the X-block marker of frame 3.
        let src = try DCDReader(url: Fixtures.url("3tvj_I_10frames.dcd"))
        let at = src.header.headerSize + 3 * src.frameSize + 56
        var frameMarker = bytes
        frameMarker[at] = 0xFF
        let r = try DCDReader(url: Fixtures.temporaryFile(frameMarker, name: "frame.dcd"))
        try r.seek(toFrame: 2)
        #expect(try r.nextFrame() != nil)
        let e3 = expectIOError { _ = try r.nextFrame() }
        if case .corrupt(let file, let frame, let offset, _)? = e3 {
            #expect(file == "frame.dcd" && frame == 3 && offset == at)
        } else { Issue.record("expected corrupt, got \(String(describing: e3))") }
        // 64-bit record markers are rejected clearly.
        var wide = [UInt8](repeating: 0, count: 200)
        wide[0] = 84
        wide.replaceSubrange(8..<12, with: Array("CORD".utf8))
        let e4 = expectIOError { _ = try DCDReader(url: Fixtures.temporaryFile(wide, name: "wide.dcd")) }
        #expect(e4 == .unsupported(file: "wide.dcd", message: "DCD with 64-bit record markers"))
    }

    @Test("truncated XTC: inside the coordinate block and inside a frame header")
    func truncatedXTC() throws {
        let bytes = try Fixtures.bytes("trpcage_1l2y.xtc")
        let offsets = xtcFrameOffsets(bytes)
        #expect(offsets.count == 101)
        let cut = offsets[3] + 200
        let r = try XTCReader(url: Fixtures.temporaryFile(Array(bytes[0..<cut]), name: "cut.xtc"))
        for _ in 0..<3 { #expect(try r.nextFrame() != nil) }
        let e = expectIOError { _ = try r.nextFrame() }
        if case .truncated(let file, let frame, let offset, _)? = e {
            #expect(file == "cut.xtc" && frame == 3 && offset == cut)
        } else { Issue.record("expected truncated, got \(String(describing: e))") }
        #expect(e?.description.hasPrefix("cut.xtc: truncated in frame 3 at byte offset \(cut)") == true)
        #expect(expectIOError { _ = try r.frameCount() } != nil)

        let headerCut = offsets[5] + 30
        let r2 = try XTCReader(url: Fixtures.temporaryFile(Array(bytes[0..<headerCut]), name: "head.xtc"))
        let e2 = expectIOError { try r2.seek(toFrame: 7) }
        if case .truncated(_, let frame, let offset, _)? = e2 { #expect(frame == 5 && offset == headerCut) }
        else { Issue.record("expected truncated, got \(String(describing: e2))") }

        let small = try Fixtures.bytes("ala2_5atoms.xtc")
        let r3 = try XTCReader(url: Fixtures.temporaryFile(Array(small[0..<(116 + 100)]), name: "small.xtc"))
        #expect(try r3.nextFrame() != nil)
        #expect(expectIOError { _ = try r3.nextFrame() } != nil)
        #expect(expectIOError { _ = try XTCReader(url: Fixtures.temporaryFile([], name: "empty.xtc")) } != nil)
    }

    @Test("corrupt XTC: bad magic at the start and in frame 5, bad atom count")
    func corruptXTC() throws {
        let bytes = try Fixtures.bytes("trpcage_1l2y.xtc")
        let offsets = xtcFrameOffsets(bytes)
        var start = bytes
        start[3] = 0
        let e1 = expectIOError { _ = try XTCReader(url: Fixtures.temporaryFile(start, name: "m0.xtc")) }
        #expect(e1 == .corrupt(file: "m0.xtc", frame: 0, offset: 0, message: "bad XTC magic number 1792, expected 1995"))
        var mid = bytes
        mid[offsets[5] + 2] = 0x55
        let r = try XTCReader(url: Fixtures.temporaryFile(mid, name: "m5.xtc"))
        for _ in 0..<5 { #expect(try r.nextFrame() != nil) }
        let e2 = expectIOError { _ = try r.nextFrame() }
        if case .corrupt(let file, let frame, let offset, _)? = e2 {
            #expect(file == "m5.xtc" && frame == 5 && offset == offsets[5])
        } else { Issue.record("expected corrupt, got \(String(describing: e2))") }
        var natoms = bytes
        natoms[offsets[2] + 7] = 0x31
        let r2 = try XTCReader(url: Fixtures.temporaryFile(natoms, name: "n.xtc"))
        let e3 = expectIOError { _ = try r2.frame(at: 2) }
        #expect(e3?.description.contains("frame 2") == true)
    }

    @Test("non-finite or absurd coordinates (NaN in a DCD, a zero-ish XTC precision) are corrupt frames with file, frame, offset and atom")
    func badCoordinates() throws {
        // DCD: NaN as atom 3's x in frame 1 (little-endian file, X block after the marker).
        let src = try DCDReader(url: Fixtures.url("trpcage_1l2y.dcd"))
        let frameStart = src.header.headerSize + src.frameSize
        let xBlock = frameStart + (src.header.hasUnitCell ? 56 : 0) + 4
        var dcd = try Fixtures.bytes("trpcage_1l2y.dcd")
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { dcd.replaceSubrange(xBlock + 8 ..< xBlock + 12, with: $0) }
        let r = try DCDReader(url: Fixtures.temporaryFile(dcd, name: "nan.dcd"))
        #expect(try r.nextFrame() != nil)
        let e = expectIOError { _ = try r.nextFrame() }
        #expect(e == .corrupt(file: "nan.dcd", frame: 1, offset: frameStart,
                              message: "atom 3 x = nan Angstrom is not a finite coordinate within ±1e6"), "\(String(describing: e))")
        // XTC: precision 1e-30 in frame 2 decodes to coordinates around 1e30 Angstrom.
        var xtc = try Fixtures.bytes("trpcage_1l2y.xtc")
        let offsets = xtcFrameOffsets(xtc)
        withUnsafeBytes(of: Float(1e-30).bitPattern.bigEndian) { xtc.replaceSubrange(offsets[2] + 56 ..< offsets[2] + 60, with: $0) }
        let x = try XTCReader(url: Fixtures.temporaryFile(xtc, name: "prec.xtc"))
        for _ in 0..<2 { #expect(try x.nextFrame() != nil) }
        let e2 = expectIOError { _ = try x.nextFrame() }
        if case .corrupt(let file, let frame, _, let message)? = e2 {
            #expect(file == "prec.xtc" && frame == 2 && message.hasPrefix("atom 1 x = ") && message.hasSuffix("is not a finite coordinate within ±1e6"), "\(message)")
        } else { Issue.record("expected corrupt, got \(String(describing: e2))") }
        // The MD pass reports it (no trap) with the frame.
        let top = try MDTopology(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        let md = expectIOError { _ = try MDFeatures.compute(topology: top, trajectory: try DCDReader(url: Fixtures.temporaryFile(dcd, name: "nan.dcd"))) }
        #expect(md?.description.contains("frame 1") == true, "\(String(describing: md))")
    }

    @Test("the neighbour grid never traps: NaN, huge and far-apart coordinates give bounded cells")
    func gridRobust() throws {
        for bad: Float in [.nan, .infinity, 1e30, -1e6] {
            var p: [Float] = [0, 0, 0, 1, 1, 1, bad, 2, 2, 3, 3, 3]
            let g = MDCellGrid(positions: &p, count: 4, cellSize: 2)
            #expect(g.nx * g.ny * g.nz <= 64, "\(bad): \(g.nx) x \(g.ny) x \(g.nz)")
            var seen: [Int] = []
            g.forEachCandidate(x: 0.5, y: 0.5, z: 0.5) { seen.append($0) }
            #expect(seen.contains(0) && seen.contains(1), "\(bad): neighbours of the origin \(seen)")
            g.forEachCandidate(x: .nan, y: 0, z: 0) { _ in Issue.record("a NaN query has no neighbours") }
            g.forEachCandidate(x: 1e30, y: -1e30, z: 0) { _ in }
        }
    }

    @Test("corrupted XTC compressed data never traps (deterministic fuzz of 300 variants)")
    func fuzzXTC() throws {
        let bytes = try Fixtures.bytes("trpcage_1l2y.xtc")
        let offsets = xtcFrameOffsets(bytes)
        let frame = Array(bytes[0..<offsets[1]])
        var state: UInt64 = 0x9E3779B97F4A7C15
        func rand() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var thrown = 0, decoded = 0
        let url = try Fixtures.temporaryFile(frame, name: "fuzz.xtc")
        for variant in 0..<300 {
            var v = frame
            let edits = 1 + rand() % 4
            for _ in 0..<edits {
                // Half the edits hit the compressed-block header (precision, min/max, smallidx, size).
                let pos = variant % 2 == 0 ? 56 + rand() % 36 : 92 + rand() % (v.count - 92)
                v[pos] = UInt8(truncatingIfNeeded: rand())
            }
            try Data(v).write(to: url)
            do {
                let r = try XTCReader(url: url)
                while try r.nextFrame() != nil {}
                decoded += 1
            } catch is StructureIOError {
                thrown += 1
            }
        }
        #expect(thrown + decoded == 300 && thrown > 0)
    }

    @Test("PDB with a malformed coordinate line names the line")
    func malformedPDB() throws {
        var lines = try String(contentsOf: Fixtures.url("trpcage_1l2y.pdb"), encoding: .utf8)
            .components(separatedBy: "\n")
        var chars = Array(lines[9])
        chars.replaceSubrange(30..<38, with: Array("  12.3a5"))
        lines[9] = String(chars)
        let e = expectIOError { _ = try PDBReader.parse(Data(lines.joined(separator: "\n").utf8), sourceName: "bad.pdb") }
        #expect(e == .malformedText(file: "bad.pdb", line: 10, message: "x coordinate '  12.3a5' (columns 31-38) is not a number"))
        #expect(e?.description.hasPrefix("bad.pdb:10: ") == true)
        let short = "ATOM      1  N   ASN A   1      25.050  35.350\n"
        let e2 = expectIOError { _ = try PDBReader.parse(Data(short.utf8), sourceName: "short.pdb") }
        #expect(e2?.description.hasPrefix("short.pdb:1: ATOM record too short") == true)
        let badResidue = "ATOM      1  N   ASN A   x      25.050  35.350  14.890  1.00  0.00           N\n"
        let e3 = expectIOError { _ = try PDBReader.parse(Data(badResidue.utf8), sourceName: "res.pdb") }
        #expect(e3?.description.hasPrefix("res.pdb:1: residue number") == true)
        let e4 = expectIOError { _ = try PDBReader.parse(Data("HEADER x\nEND\n".utf8), sourceName: "empty.pdb") }
        #expect(e4?.description.contains("no ATOM/HETATM records") == true)
        let e5 = expectIOError { _ = try Structure.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.pdb")) }
        #expect(e5 == .fileNotFound(path: "/nonexistent/x.pdb"))
        let e6 = expectIOError { _ = try openTrajectory(Fixtures.url("1A8O.pdb")) }
        if case .unknownFormat? = e6 {} else { Issue.record("expected unknownFormat") }
    }

    @Test("topology/trajectory atom-count mismatch is reported")
    func atomCountMismatch() throws {
        let top = try PDBReader.read(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        let traj = try DCDReader(url: Fixtures.url("3tvj_I_10frames.dcd"))
        let e = expectIOError { try top.checkCompatible(with: traj) }
        #expect(e == .atomCountMismatch(topology: "trpcage_1l2y.pdb", topologyAtoms: 304,
                                        trajectory: "3tvj_I_10frames.dcd", trajectoryAtoms: 531))
        #expect(e?.description == "atom count mismatch: topology trpcage_1l2y.pdb has 304 atoms, trajectory 3tvj_I_10frames.dcd has 531")
    }
}

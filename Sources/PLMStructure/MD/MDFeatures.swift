import COpenBLAS
import Dispatch
import Foundation

/// Options of an MD feature pass.
public struct MDFeatureOptions: Sendable {
    /// Use every `stride`-th frame (0, stride, 2 stride, ...); frame 0 is always the reference.
    public var stride: Int = 1
    /// Stop after this many used frames (nil = all).
    public var maxFrames: Int? = nil
    /// Shrake-Rupley probe radius (nm).
    public var probeRadius: Float = 0.14
    /// Shrake-Rupley sphere points per atom.
    public var spherePoints: Int = 960
    /// Compute the nine GetContacts interaction channels (else they stay 0).
    public var contacts: Bool = true
    /// GetContacts geometric criteria.
    public var criteria = MDContactCriteria()
    /// Worker threads for the per-frame features (frames of a batch run in parallel).
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Frames held in memory at once (0 = 4 per thread).
    public var batchSize: Int = 0

    public init(stride: Int = 1, maxFrames: Int? = nil, contacts: Bool = true, threads: Int? = nil) {
        self.stride = stride
        self.maxFrames = maxFrames
        self.contacts = contacts
        if let threads { self.threads = threads }
    }
}

/// Wall-clock seconds summed over frames per feature (per-frame cost = value / frames).
public struct MDFeatureTimings: Sendable, Equatable {
    public var read = 0.0, superposition = 0.0, sasa = 0.0, dssp = 0.0, dihedrals = 0.0, contacts = 0.0
    /// Wall-clock seconds of the whole pass.
    public var total = 0.0
    public init() {}
}

/// SeqDance's per-protein MD features of one trajectory (see docs SEQDANCE.md).
///
/// Rows are the topology's amino-acid residues with a CA atom (`MDTopology`). Values
/// follow SeqDance's `MD_features.py` on MDTraj 1.9.7: every frame superposed on frame 0
/// by CA before RMSF, correlation, SASA (Shrake-Rupley's sphere points are fixed in
/// space, so SASA depends on the orientation), DSSP and dihedrals; the interaction
/// contacts use the raw frames as GetContacts does. RMSF in nm, SASA in nm^2,
/// frequencies as fractions of frames, interaction channels as atom-level contacts per frame.
///
/// Streaming: the trajectory is read once, a batch of frames at a time (bounded
/// memory: `batchSize` frames). RMSF, the CA covariance and the SASA spread are
/// accumulated with Welford's online update (mean and co-moment, in Double), so a
/// single pass suffices and no frame is kept. The CA covariance is the N x N matrix of
/// 3x3-block traces, updated per frame with one rank-3 DGEMM:
/// `C += (x - mean_old)(x - mean_new)^T`.
public struct MDFeatures: Sendable {
    /// Topology name (for messages and metadata).
    public let name: String
    /// One-letter sequence of the rows.
    public let sequence: String
    /// Rows per chain run (sum = residueCount).
    public let chainLengths: [Int]
    /// Labels `chain:resname:number` per row.
    public let residueLabels: [String]
    /// Frames used.
    public let frameCount: Int
    /// L.
    public var residueCount: Int { sequence.unicodeScalars.count }

    /// CA RMSF about the mean superposed structure, nm [L].
    public let rmsf: [Double]
    /// CA correlation [L * L] (0 where a residue does not move).
    public let correlation: [Double]
    /// SASA mean and population standard deviation over frames, nm^2 [L].
    public let sasaMean: [Double]
    public let sasaStd: [Double]
    /// DSSP class frequencies [L * 8], columns B, E, H, I, G, S, T, coil.
    public let dssp: [Double]
    /// 12-bin histograms divided by the frame count [L * 12]; rows without the angle are 0.
    public let chi: [Double]
    public let phi: [Double]
    public let psi: [Double]
    /// Interaction contacts per frame, symmetric, [9][L * L] in `MDInteraction` order
    /// (atom-level contacts of that type between residues i and j, averaged over frames).
    public let contacts: [[Double]]
    /// Time spent per feature.
    public let timings: MDFeatureTimings

    /// Residue features [L, 47] in SeqDance column order: sasa_mean, sasa_std, rmsf (nm),
    /// ss B E H I G S T coil, chi 0-11, phi 0-11, psi 0-11.
    public var residueFeatures: [Float] {
        let L = residueCount
        var out = [Float](repeating: 0, count: L * 47)
        for i in 0 ..< L {
            let o = i * 47
            out[o] = Float(sasaMean[i]); out[o + 1] = Float(sasaStd[i]); out[o + 2] = Float(rmsf[i])
            for k in 0 ..< 8 { out[o + 3 + k] = Float(dssp[i * 8 + k]) }
            for k in 0 ..< 12 {
                out[o + 11 + k] = Float(chi[i * 12 + k])
                out[o + 23 + k] = Float(phi[i * 12 + k])
                out[o + 35 + k] = Float(psi[i * 12 + k])
            }
        }
        return out
    }

    /// Pair features [L, L, 10]: the nine interaction channels stored as x^(1/3), then the CA correlation.
    public var pairFeatures: [Float] {
        let L = residueCount
        var out = [Float](repeating: 0, count: L * L * 10)
        for p in 0 ..< L * L {
            for t in 0 ..< 9 { out[p * 10 + t] = Float(cbrt(contacts[t][p])) }
            out[p * 10 + 9] = Float(correlation[p])
        }
        return out
    }

    /// Reads the topology (PDB/mmCIF, first model) and the trajectory (DCD/XTC) and computes the features.
    public static func compute(topology: URL, trajectory: URL, options: MDFeatureOptions = .init(),
                               progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                               shouldStop: (() -> Bool)? = nil) throws -> MDFeatures {
        let top = try MDTopology(contentsOf: topology)
        let reader = try openTrajectory(trajectory)
        return try compute(topology: top, trajectory: reader, options: options, progress: progress, shouldStop: shouldStop)
    }

    /// Computes the features of `trajectory` (read from its start) for `topology`.
    ///
    /// Throws `StructureIOError.atomCountMismatch` when the atom counts differ, reader
    /// errors for damaged files, `MDFeatureError` for unusable input. `shouldStop` is polled
    /// before each batch of frames; when it returns true the pass ends with
    /// `MDFeatureError.cancelled` (Ctrl-C on a long trajectory).
    public static func compute(topology: MDTopology, trajectory reader: any TrajectoryReader,
                               options: MDFeatureOptions = .init(),
                               progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                               shouldStop: (() -> Bool)? = nil) throws -> MDFeatures {
        guard options.stride >= 1 else { throw MDFeatureError.invalidOption("stride must be >= 1, got \(options.stride)") }
        guard options.spherePoints >= 1 else { throw MDFeatureError.invalidOption("sphere points must be >= 1") }
        if let m = options.maxFrames, m < 1 { throw MDFeatureError.invalidOption("max frames must be >= 1, got \(m)") }
        if topology.atomCount != reader.atomCount {
            throw StructureIOError.atomCountMismatch(topology: topology.name, topologyAtoms: topology.atomCount,
                                                     trajectory: reader.url.lastPathComponent, trajectoryAtoms: reader.atomCount)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let fileFrames = try reader.frameCount()
        var total = (fileFrames + options.stride - 1) / options.stride
        if let m = options.maxFrames { total = min(total, m) }
        guard total > 0 else { throw MDFeatureError.noFrames(trajectory: reader.url.lastPathComponent) }
        try reader.seek(toFrame: 0)

        let engine = try MDFrameEngine(topology: topology, options: options)
        let threads = max(1, options.threads)
        let batch = options.batchSize > 0 ? options.batchSize : 4 * threads
        var slots = (0 ..< min(batch, total)).map { _ in MDFrameSlot(engine: engine) }
        var acc = MDAccumulator(topology: topology, engine: engine)
        var timings = MDFeatureTimings()
        var frame = TrajectoryFrame(atomCount: reader.atomCount)
        var used = 0
        var nextFileFrame = 0
        while used < total {
            if shouldStop?() == true {
                throw MDFeatureError.cancelled(trajectory: reader.url.lastPathComponent, framesDone: used, frames: total)
            }
            // Fill a batch (reading is sequential; stride > 1 seeks).
            let t0 = DispatchTime.now().uptimeNanoseconds
            var filled = 0
            while filled < slots.count && used + filled < total {
                if nextFileFrame != reader.nextFrameIndex { try reader.seek(toFrame: nextFileFrame) }
                guard try reader.readNextFrame(into: &frame) else { break }
                slots[filled].load(frame.positions)
                filled += 1
                nextFileFrame += options.stride
            }
            timings.read += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if filled == 0 { break }
            if used == 0 { engine.setReference(slots[0].angstrom) }
            slots.withUnsafeMutableBufferPointer { sp in
                let base = sp.baseAddress!
                if threads == 1 || filled == 1 {
                    for k in 0 ..< filled { engine.process(&base[k]) }
                } else {
                    // `threads` workers, each taking every threads-th slot of the batch.
                    let workers = min(threads, filled)
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        var k = w
                        while k < filled { engine.process(&base[k]); k += workers }
                    }
                }
            }
            for k in 0 ..< filled {
                acc.add(slots[k])
                timings.superposition += slots[k].seconds[0]; timings.sasa += slots[k].seconds[1]
                timings.dssp += slots[k].seconds[2]; timings.dihedrals += slots[k].seconds[3]
                timings.contacts += slots[k].seconds[4]
            }
            used += filled
            progress?(used, total)
        }
        guard used > 0 else { throw MDFeatureError.noFrames(trajectory: reader.url.lastPathComponent) }
        timings.total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return acc.finish(topology: topology, timings: timings)
    }
}

/// Per-frame work shared by all frames: tables, reference structure, frame-0 decisions.
final class MDFrameEngine: @unchecked Sendable {
    let top: MDTopology
    let options: MDFeatureOptions
    let shrakeRupley: MDShrakeRupley
    let radii: [Float]
    let sasaRows: [Int32]
    private(set) var reference: [Double] = []
    private(set) var referenceCentroid = SIMD3<Double>.zero
    private(set) var contactState: MDContactFrameState? = nil

    init(topology: MDTopology, options: MDFeatureOptions) throws {
        top = topology
        self.options = options
        shrakeRupley = MDShrakeRupley(spherePoints: options.spherePoints)
        radii = try topology.sasaRadii(probe: options.probeRadius)
        sasaRows = topology.sasaAtoms.map { topology.atomRow[Int($0)] }
    }

    /// Frame 0 (Angstrom): CA reference (nm, Double) and GetContacts' frame-0 decisions.
    func setReference(_ positions: [Float]) {
        reference = top.caAtoms.flatMap { a in (0 ..< 3).map { Double(positions[3 * a + $0] * Float(0.1)) } }
        referenceCentroid = reference.withUnsafeBufferPointer { MDSuperposition.centroid($0.baseAddress!, count: top.caAtoms.count) }
        if options.contacts {
            contactState = positions.withUnsafeBufferPointer {
                MDContactFrameState(tables: top.contacts, positions: $0.baseAddress!, atomCount: top.atomCount)
            }
        }
    }

    /// Computes every per-frame feature of one loaded slot.
    func process(_ s: inout MDFrameSlot) {
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ k: Int) {
            let now = DispatchTime.now().uptimeNanoseconds
            s.seconds[k] = Double(now - clock) / 1e9; clock = now
        }
        superpose(&s); lap(0)
        sasa(&s); lap(1)
        dssp(&s); lap(2)
        dihedrals(&s); lap(3)
        contacts(&s); lap(4)
    }

    /// Step 1: nm coordinates superposed on frame 0 by CA (`s.nm`, `s.ca`).
    func superpose(_ s: inout MDFrameSlot) {
        let n = top.atomCount
        // nm as MDTraj holds them (DCD Angstrom * 0.1f).
        s.angstrom.withUnsafeBufferPointer { a in s.nm.withUnsafeMutableBufferPointer { b in
            for i in 0 ..< 3 * n { b[i] = a[i] * Float(0.1) }
        }}
        // Superpose the whole frame on frame 0 by CA, with MDTraj's precision steps:
        // centre in Double, rotate in Float, add the reference centroid in Double.
        // SASA depends on the orientation (the sphere points are fixed in space), so it
        // and everything else except the contacts (GetContacts reads raw frames) use it.
        for (k, a) in top.caAtoms.enumerated() {
            for d in 0 ..< 3 { s.ca[3 * k + d] = Double(s.nm[3 * a + d]) }
        }
        let nCA = top.caAtoms.count
        let cm = s.ca.withUnsafeBufferPointer { MDSuperposition.centroid($0.baseAddress!, count: nCA) }
        let r = s.ca.withUnsafeBufferPointer { c in reference.withUnsafeBufferPointer { ref in
            MDSuperposition.rotation(mobile: c.baseAddress!, mobileCentroid: cm, reference: ref.baseAddress!,
                                     referenceCentroid: referenceCentroid, count: nCA)
        }}.map { Float($0) }
        let cr = referenceCentroid
        s.nm.withUnsafeMutableBufferPointer { b in
            for i in 0 ..< n {
                let x = Float(Double(b[3 * i]) - cm.x), y = Float(Double(b[3 * i + 1]) - cm.y), z = Float(Double(b[3 * i + 2]) - cm.z)
                let rx = r[0] * x + r[1] * y + r[2] * z
                let ry = r[3] * x + r[4] * y + r[5] * z
                let rz = r[6] * x + r[7] * y + r[8] * z
                b[3 * i] = Float(Double(rx) + cr.x); b[3 * i + 1] = Float(Double(ry) + cr.y); b[3 * i + 2] = Float(Double(rz) + cr.z)
            }
        }
        for (k, a) in top.caAtoms.enumerated() {
            for d in 0 ..< 3 { s.ca[3 * k + d] = Double(s.nm[3 * a + d]) }
        }
    }

    /// Step 2: SASA per residue (`s.sasa`, nm^2) from the superposed frame.
    func sasa(_ s: inout MDFrameSlot) {
        let m = top.sasaAtoms.count
        for (k, a) in top.sasaAtoms.enumerated() {
            let i = Int(a)
            s.sasaXYZ[3 * k] = s.nm[3 * i]; s.sasaXYZ[3 * k + 1] = s.nm[3 * i + 1]; s.sasaXYZ[3 * k + 2] = s.nm[3 * i + 2]
        }
        s.sasaXYZ.withUnsafeBufferPointer { x in radii.withUnsafeBufferPointer { r in sasaRows.withUnsafeBufferPointer { rows in
            s.sasa.withUnsafeMutableBufferPointer { out in
                shrakeRupley.residueAreas(positions: x.baseAddress!, radii: r.baseAddress!, count: m, rows: rows.baseAddress!,
                                  out: out.baseAddress!, rowCount: top.residueCount)
            }
        }}}
    }

    /// Step 3: DSSP classes (`s.dssp`) from the superposed frame.
    func dssp(_ s: inout MDFrameSlot) {
        s.nm.withUnsafeBufferPointer { x in s.dssp.withUnsafeMutableBufferPointer { o in
            MDDSSP.assign(positions: x.baseAddress!, tables: top.dssp, out: o.baseAddress!, workspace: s.dsspWork)
        }}
    }

    /// Step 4: phi/psi/chi1 bins (superposed nm, like MDTraj).
    func dihedrals(_ s: inout MDFrameSlot) {
        s.nm.withUnsafeBufferPointer { x in
            s.phi.withUnsafeMutableBufferPointer { MDDihedrals.bins(top.phi, positions: x.baseAddress!, out: $0.baseAddress!) }
            s.psi.withUnsafeMutableBufferPointer { MDDihedrals.bins(top.psi, positions: x.baseAddress!, out: $0.baseAddress!) }
            s.chi.withUnsafeMutableBufferPointer { MDDihedrals.bins(top.chi1, positions: x.baseAddress!, out: $0.baseAddress!) }
        }
    }

    /// Step 5: interaction contact events (raw Angstrom frame, like VMD).
    func contacts(_ s: inout MDFrameSlot) {
        s.events.removeAll(keepingCapacity: true)
        if let state = contactState {
            s.angstrom.withUnsafeBufferPointer { x in
                MDContacts.frame(top.contacts, state, options.criteria, positions: x.baseAddress!, events: &s.events)
            }
        }
    }
}

/// One frame's buffers and results (reused across batches).
struct MDFrameSlot {
    var angstrom: [Float]
    var nm: [Float]
    var ca: [Double]
    var sasaXYZ: [Float]
    var sasa: [Float]
    var dssp: [UInt8]
    var phi: [Int8], psi: [Int8], chi: [Int8]
    var events: [UInt64] = []
    /// DSSP scratch memory (a slot is processed by one thread at a time).
    let dsspWork = MDDSSPWorkspace()
    var seconds = [Double](repeating: 0, count: 5)

    init(engine e: MDFrameEngine) {
        let t = e.top
        angstrom = [Float](repeating: 0, count: 3 * t.atomCount)
        nm = angstrom
        ca = [Double](repeating: 0, count: 3 * t.caAtoms.count)
        sasaXYZ = [Float](repeating: 0, count: 3 * t.sasaAtoms.count)
        sasa = [Float](repeating: 0, count: t.residueCount)
        dssp = [UInt8](repeating: MDDSSP.loop, count: t.dssp.count)
        phi = [Int8](repeating: -1, count: t.phi.count)
        psi = [Int8](repeating: -1, count: t.psi.count)
        chi = [Int8](repeating: -1, count: t.chi1.count)
    }

    mutating func load(_ positions: [Float]) {
        angstrom.withUnsafeMutableBufferPointer { d in positions.withUnsafeBufferPointer { s in
            d.baseAddress!.update(from: s.baseAddress!, count: min(d.count, s.count))
        }}
    }
}

/// Online statistics over frames (Welford; Double).
struct MDAccumulator {
    let L: Int
    var n = 0
    var caMean: [Double]
    var caComoment: [Double]
    var deltaOld: [Double]
    var deltaNew: [Double]
    var sasaMean: [Double]
    var sasaM2: [Double]
    var dsspCounts: [Int]
    var phiCounts: [Int], psiCounts: [Int], chiCounts: [Int]
    var contactCounts: [UInt64: Int] = [:]
    let dsspRows: [Int32]
    let dsspSkipped: [Bool]
    let phiRows: [Int32], psiRows: [Int32], chiRows: [Int32]

    init(topology t: MDTopology, engine: MDFrameEngine) {
        L = t.residueCount
        caMean = [Double](repeating: 0, count: 3 * L)
        caComoment = [Double](repeating: 0, count: L * L)
        deltaOld = caMean; deltaNew = caMean
        sasaMean = [Double](repeating: 0, count: L); sasaM2 = sasaMean
        dsspCounts = [Int](repeating: 0, count: 8 * L)
        phiCounts = [Int](repeating: 0, count: 12 * L); psiCounts = phiCounts; chiCounts = phiCounts
        dsspRows = t.dssp.row
        dsspSkipped = (0 ..< t.dssp.count).map { MDDSSP.isSkipped(t.dssp, $0) }
        phiRows = t.phi.map(\.row); psiRows = t.psi.map(\.row); chiRows = t.chi1.map(\.row)
    }

    mutating func add(_ s: MDFrameSlot) {
        n += 1
        let inv = 1 / Double(n)
        for i in 0 ..< 3 * L {
            let x = s.ca[i]
            deltaOld[i] = x - caMean[i]
            caMean[i] += deltaOld[i] * inv
            deltaNew[i] = x - caMean[i]
        }
        // C (L x L) += dOld (L x 3) * dNew^T (3 x L)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(L), Int32(L), 3, 1.0,
                    deltaOld, 3, deltaNew, 3, 1.0, &caComoment, Int32(L))
        for i in 0 ..< L {
            let x = Double(s.sasa[i])
            let d = x - sasaMean[i]
            sasaMean[i] += d * inv
            sasaM2[i] += d * (x - sasaMean[i])
        }
        for r in 0 ..< dsspRows.count where dsspRows[r] >= 0 && !dsspSkipped[r] {
            dsspCounts[8 * Int(dsspRows[r]) + Int(s.dssp[r])] += 1
        }
        func hist(_ bins: [Int8], _ rows: [Int32], _ counts: inout [Int]) {
            for k in 0 ..< bins.count where bins[k] >= 0 { counts[12 * Int(rows[k]) + Int(bins[k])] += 1 }
        }
        hist(s.phi, phiRows, &phiCounts); hist(s.psi, psiRows, &psiCounts); hist(s.chi, chiRows, &chiCounts)
        for e in s.events { contactCounts[e, default: 0] += 1 }
    }

    func finish(topology t: MDTopology, timings: MDFeatureTimings) -> MDFeatures {
        let fn = Double(n)
        var rmsf = [Double](repeating: 0, count: L)
        var corr = [Double](repeating: 0, count: L * L)
        for i in 0 ..< L { rmsf[i] = max(caComoment[i * L + i], 0).squareRoot() / fn.squareRoot() }
        for i in 0 ..< L {
            for j in 0 ..< L {
                let c = 0.5 * (caComoment[i * L + j] + caComoment[j * L + i])
                let d = (caComoment[i * L + i] * caComoment[j * L + j]).squareRoot()
                corr[i * L + j] = d > 0 ? c / d : 0
            }
        }
        var contacts = [[Double]](repeating: [Double](repeating: 0, count: L * L), count: 9)
        for (k, c) in contactCounts {
            let (type, a, b) = MDContacts.decode(k)
            contacts[type][a * L + b] += Double(c) / fn
            if a != b { contacts[type][b * L + a] += Double(c) / fn }
        }
        return MDFeatures(
            name: t.name, sequence: t.sequence, chainLengths: t.chainLengths, residueLabels: t.residueLabels,
            frameCount: n, rmsf: rmsf, correlation: corr,
            sasaMean: sasaMean, sasaStd: sasaM2.map { max($0, 0).squareRoot() / fn.squareRoot() },
            dssp: dsspCounts.map { Double($0) / fn },
            chi: chiCounts.map { Double($0) / fn }, phi: phiCounts.map { Double($0) / fn }, psi: psiCounts.map { Double($0) / fn },
            contacts: contacts, timings: timings)
    }
}

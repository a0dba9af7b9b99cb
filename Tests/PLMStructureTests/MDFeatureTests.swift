import Foundation
import Testing
@testable import PLMStructure

/// Contact agreement per type with SeqDance's GetContacts output.
struct MDContactAgreement: CustomStringConvertible {
    var ours: [String: Int] = [:], theirs: [String: Int] = [:]
    /// Residue pairs (i < j) whose count differs, per type, and the summed |difference|.
    var pairMismatches: [String: Int] = [:], countDifference: [String: Int] = [:]
    var examples: [String] = []

    init(_ f: MDFeatures, _ r: MDReferenceCase) {
        let L = f.residueCount, F = Double(f.frameCount)
        for t in MDInteraction.allCases {
            var want = [Int: Int]()
            for p in r.contacts?[t.name] ?? [] { want[p[0] * L + p[1]] = p[2] }
            var got = [Int: Int]()
            for i in 0 ..< L { for j in i ..< L {
                let c = Int((f.contacts[t.rawValue][i * L + j] * F).rounded())
                if c > 0 { got[i * L + j] = c }
            }}
            ours[t.name] = got.values.reduce(0, +)
            theirs[t.name] = r.contactLines?[t.name] ?? 0
            var mism = 0, diff = 0
            for k in Set(want.keys).union(got.keys) {
                let a = got[k] ?? 0, b = want[k] ?? 0
                if a != b {
                    mism += 1; diff += abs(a - b)
                    if examples.count < 12 { examples.append("\(t.name) \(f.residueLabels[k / L])-\(f.residueLabels[k % L]): \(a) vs \(b)") }
                }
            }
            pairMismatches[t.name] = mism; countDifference[t.name] = diff
        }
    }

    var description: String {
        MDInteraction.allCases.map { t in
            "\(t.name) \(ours[t.name]!)/\(theirs[t.name]!) (pairs off \(pairMismatches[t.name]!), |d| \(countDifference[t.name]!))"
        }.joined(separator: ", ") + (examples.isEmpty ? "" : "; e.g. " + examples.joined(separator: "; "))
    }
}

@Suite("MD features vs MDTraj")
struct MDFeatureTests {
    static func compute(_ r: MDReferenceCase, batchSize: Int = 0, threads: Int? = nil) throws -> MDFeatures {
        var o = MDFeatureOptions(stride: r.stride, threads: threads)
        o.batchSize = batchSize
        return try MDFeatures.compute(topology: r.topology, trajectory: r.trajectory, options: o)
    }

    @Test("every fixture case matches MDTraj", arguments: MDFixtures.caseNames)
    func matchesMDTraj(_ name: String) throws {
        let r = MDFixtures.reference(name)
        let f = try Self.compute(r)
        let top = try MDTopology(contentsOf: r.topology)
        let letters = try mdDSSPLetters(topology: top, trajectory: r.trajectory, stride: r.stride)
        let a = MDAgreement(f, r, frameLetters: letters)
        print("[MD] \(name): \(f.frameCount) frames, L=\(f.residueCount): \(a); timings \(f.timings)")
        #expect(f.frameCount == r.frames)
        #expect(f.residueCount == r.residues)
        #expect(f.sequence == r.sequence)
        #expect(a.rmsf <= 1e-4, "RMSF \(a.rmsf)")
        #expect(a.corr <= 1e-4, "corr \(a.corr)")
        #expect(a.phi <= 1e-4 && a.psi <= 1e-4 && a.chi <= 1e-4, "\(a)")
        #expect(a.sasaMean <= 0.01 && a.sasaStd <= 0.01, "\(a)")
        #expect(a.dsspResidues >= 0.99, "\(a)")
        #expect(a.dsspLetters >= 0.99, "\(a)")
        if r.contacts != nil {
            let c = MDContactAgreement(f, r)
            print("[MD] \(name) contacts vs GetContacts: \(c)")
            for t in MDInteraction.allCases {
                #expect(c.ours[t.name] == c.theirs[t.name] && c.pairMismatches[t.name] == 0, "\(t.name): \(c)")
            }
        }
    }

    @Test("batch size and thread count do not change any value")
    func streamingInvariance() throws {
        let r = MDFixtures.reference("ubiquitin_10frames")
        let a = try Self.compute(r)
        let b = try Self.compute(r, batchSize: 1, threads: 1)
        let c = try Self.compute(r, batchSize: 3, threads: 2)
        for x in [b, c] {
            #expect(x.residueFeatures == a.residueFeatures)
            #expect(x.pairFeatures == a.pairFeatures)
        }
    }

    @Test("maxFrames and stride pick frames 0, k, 2k, ...")
    func strideAndMaxFrames() throws {
        let r = MDFixtures.reference("trpcage_stride5")
        var o = MDFeatureOptions(stride: 5, maxFrames: 4)
        o.contacts = false
        let f = try MDFeatures.compute(topology: r.topology, trajectory: r.trajectory, options: o)
        #expect(f.frameCount == 4)
        // DSSP letters of frames 0, 5, 10, 15 from the reference decide the frequencies.
        let L = r.residues
        for i in 0 ..< L {
            let letters = r.dssp.prefix(4).map { Array($0)[i] }
            for (k, cls) in MDDSSP.classes.enumerated() {
                #expect(abs(f.dssp[i * 8 + k] - Double(letters.filter { $0 == cls }.count) / 4) < 1e-12)
            }
        }
        #expect(f.contacts.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }

    @Test("SeqDance layout: columns, cube root, symmetry, correlation diagonal")
    func layout() throws {
        let r = MDFixtures.reference("3tvj_I")
        let f = try Self.compute(r)
        let L = f.residueCount
        let res = f.residueFeatures, pair = f.pairFeatures
        #expect(res.count == L * 47 && pair.count == L * L * 10)
        for i in 0 ..< L {
            #expect(res[i * 47] == Float(f.sasaMean[i]) && res[i * 47 + 1] == Float(f.sasaStd[i]) && res[i * 47 + 2] == Float(f.rmsf[i]))
            #expect(abs(res[(i * 47 + 3) ..< (i * 47 + 11)].reduce(0, +) - 1) < 1e-5, "DSSP frequencies sum to 1")
            #expect(res[i * 47 + 23] == Float(f.phi[i * 12]) && res[i * 47 + 46] == Float(f.psi[i * 12 + 11]))
            #expect(abs(pair[(i * L + i) * 10 + 9] - 1) < 1e-6)
            for j in 0 ..< L {
                for t in 0 ..< 10 { #expect(pair[(i * L + j) * 10 + t] == pair[(j * L + i) * 10 + t]) }
                let v = f.contacts[0][i * L + j]
                #expect(abs(pair[(i * L + j) * 10] - Float(cbrt(v))) < 1e-6)
            }
        }
        // first phi and last psi are missing: zero rows
        #expect(res[23 ..< 35].allSatisfy { $0 == 0 })
        #expect(res[((L - 1) * 47 + 35) ..< ((L - 1) * 47 + 47)].allSatisfy { $0 == 0 })
        // Gly (residue 1, G) has no chi1
        #expect(res[11 ..< 23].allSatisfy { $0 == 0 })
    }

    @Test("two chains: rows per chain, no dihedral across the chain break")
    func twoChains() throws {
        let model = try Structure.read(contentsOf: Fixtures.url("trpcage_1l2y.pdb")).firstModel
        var atoms = model.atoms
        for i in atoms.indices where atoms[i].residueNumber > 10 { atoms[i].chainID = "B" }
        for i in atoms.indices where atoms[i].residueNumber <= 10 { atoms[i].chainID = "A" }
        let top = try MDTopology(model: StructureModel(number: 1, atoms: atoms), name: "split")
        #expect(top.chainLengths == [10, 10])
        let f = try MDFeatures.compute(topology: top, trajectory: try openTrajectory(Fixtures.url("trpcage_1l2y.xtc")),
                                       options: MDFeatureOptions(maxFrames: 5))
        #expect(f.chainLengths == [10, 10] && f.residueCount == 20)
        // psi of residue 10 (last of A) and phi of residue 11 (first of B) do not exist
        #expect(f.psi[9 * 12 ..< 10 * 12].allSatisfy { $0 == 0 })
        #expect(f.phi[10 * 12 ..< 11 * 12].allSatisfy { $0 == 0 })
        #expect(abs(f.phi[11 * 12 ..< 12 * 12].reduce(0, +) - 1) < 1e-12)
    }

    @Test("shouldStop ends the pass between frame batches with cancelled(framesDone:)")
    func cancelled() throws {
        let top = try MDTopology(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        var o = MDFeatureOptions(maxFrames: 10, threads: 1)
        o.batchSize = 3
        var polls = 0
        do {
            _ = try MDFeatures.compute(topology: top, trajectory: try openTrajectory(Fixtures.url("trpcage_1l2y.xtc")),
                                       options: o, shouldStop: { polls += 1; return polls > 2 })
            Issue.record("the pass was not stopped")
        } catch let e as MDFeatureError {
            // polled before batches 1, 2 and 3: two batches of 3 frames were done
            #expect(e == .cancelled(trajectory: "trpcage_1l2y.xtc", framesDone: 6, frames: 10))
            #expect(e.description == "trpcage_1l2y.xtc: interrupted after 6 of 10 frames (nothing written)")
        }
        // never raised: the same features as without the hook
        let a = try MDFeatures.compute(topology: top, trajectory: try openTrajectory(Fixtures.url("trpcage_1l2y.xtc")),
                                       options: o, shouldStop: { false })
        let b = try MDFeatures.compute(topology: top, trajectory: try openTrajectory(Fixtures.url("trpcage_1l2y.xtc")), options: o)
        #expect(a.residueFeatures == b.residueFeatures && a.frameCount == 10)
    }

    @Test("an atom-count mismatch is reported with both files and counts")
    func atomCountMismatch() throws {
        let top = try MDTopology(contentsOf: Fixtures.url("3tvj_I.pdb"))
        let reader = try openTrajectory(Fixtures.url("trpcage_1l2y.xtc"))
        let e = expectIOError { _ = try MDFeatures.compute(topology: top, trajectory: reader) }
        #expect(e == .atomCountMismatch(topology: "3tvj_I.pdb", topologyAtoms: 531, trajectory: "trpcage_1l2y.xtc", trajectoryAtoms: 304))
        #expect(e?.description.contains("531") == true && e?.description.contains("304") == true)
    }
}

@Suite("MD building blocks")
struct MDBuildingBlockTests {
    @Test("superposition recovers a known rotation and translation")
    func superposition() {
        var rng = SystemRandomNumberGenerator()
        let n = 12
        var ref = (0 ..< 3 * n).map { _ in Double.random(in: -2 ... 2, using: &rng) }
        // rotation about (1, 2, 3) by 0.7 rad
        let axis = SIMD3<Double>(1, 2, 3) / (14.0).squareRoot(), th = 0.7
        let (c, s) = (cos(th), sin(th))
        func rot(_ v: SIMD3<Double>) -> SIMD3<Double> {
            v * c + SIMD3(axis.y * v.z - axis.z * v.y, axis.z * v.x - axis.x * v.z, axis.x * v.y - axis.y * v.x) * s
                + axis * ((axis * v).sum() * (1 - c))
        }
        var mobile = [Double](repeating: 0, count: 3 * n)
        for i in 0 ..< n {
            let v = rot(SIMD3(ref[3 * i], ref[3 * i + 1], ref[3 * i + 2])) + SIMD3(5, -3, 1)
            mobile[3 * i] = v.x; mobile[3 * i + 1] = v.y; mobile[3 * i + 2] = v.z
        }
        let cr = ref.withUnsafeBufferPointer { MDSuperposition.centroid($0.baseAddress!, count: n) }
        mobile.withUnsafeMutableBufferPointer { m in ref.withUnsafeMutableBufferPointer { r in
            MDSuperposition.superpose(m.baseAddress!, onto: r.baseAddress!, referenceCentroid: cr, count: n)
        }}
        var maxErr = 0.0
        for i in 0 ..< 3 * n { maxErr = max(maxErr, abs(mobile[i] - ref[i])) }
        #expect(maxErr < 1e-10, "max error \(maxErr)")
    }

    @Test("an isolated atom has area 4 pi R^2; an enclosed one has none")
    func sasaSpheres() {
        let sr = MDShrakeRupley()
        var areas = [Float](repeating: 0, count: 3)
        let pos: [Float] = [0, 0, 0, 5, 0, 0, 5.05, 0, 0]
        let radii: [Float] = [0.31, 0.3, 0.1]
        sr.atomAreas(positions: pos, radii: radii, count: 3, areas: &areas)
        #expect(abs(areas[0] - 4 * Float.pi * 0.31 * 0.31) < 1e-5)
        #expect(areas[2] == 0)
        // the small atom sits inside the big one: it is buried and buries nothing
        #expect(abs(areas[1] - 4 * Float.pi * 0.09) < 1e-5)
    }

    @Test("histogram bins follow numpy: left-closed, last bin closed")
    func bins() {
        #expect(MDDihedrals.bin(-3.14159) == 0)
        // float32(-pi) < -pi: NumPy drops it from the histogram (MDTraj angles are float32)
        #expect(MDDihedrals.bin(-Double.pi) == -1)
        #expect(MDDihedrals.bin(0) == 6)
        #expect(MDDihedrals.bin(-1e-9) == 5)
        #expect(MDDihedrals.bin(Double.pi / 6 * 5 - 1e-7) == 10)
        #expect(MDDihedrals.bin(Double.pi) == -1)
        #expect(MDDihedrals.bin(3.1) == 11)
    }
}

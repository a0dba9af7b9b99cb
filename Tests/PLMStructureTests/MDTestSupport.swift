import Foundation
import Testing
@testable import PLMStructure

/// One MDTraj reference case written by scripts/reference/md/make_fixtures.py.
struct MDReferenceCase {
    let name: String
    let topology: URL
    let trajectory: URL
    let stride: Int
    let frames: Int
    let residues: Int
    let sequence: String
    let rmsf: [Double]
    let corr: [Double]
    let sasaMean: [Double]
    let sasaStd: [Double]
    let sasaFrame0: [Double]
    let dssp: [String]
    let phi: [Double], psi: [Double], chi: [Double]
    /// GetContacts counts per type: [[i, j, count]] over all frames, i <= j (3tvj_I only).
    let contacts: [String: [[Int]]]?
    let contactLines: [String: Int]?

    init(name: String, json d: [String: Any], base: URL?) {
        self.name = name
        func url(_ key: String) -> URL {
            let s = jString(d[key])
            return base.map { $0.appendingPathComponent(s) } ?? URL(fileURLWithPath: s)
        }
        topology = url("topology"); trajectory = url("trajectory")
        stride = jInt(d["stride"]); frames = jInt(d["frames"]); residues = jInt(d["residues"])
        sequence = jString(d["sequence"])
        func doubles(_ k: String) -> [Double] {
            jArray(d[k]).map { ($0 as? NSNumber)?.doubleValue ?? .nan }
        }
        rmsf = doubles("rmsf"); corr = doubles("corr")
        sasaMean = doubles("sasa_mean"); sasaStd = doubles("sasa_std"); sasaFrame0 = doubles("sasa_frame0")
        dssp = jArray(d["dssp"]).map { jString($0) }
        phi = doubles("phi"); psi = doubles("psi"); chi = doubles("chi")
        if let c = d["contacts"] as? [String: Any] {
            let pairs = jDict(c["pairs"])
            contacts = pairs.mapValues { jArray($0).map { jArray($0).map { jInt($0) } } }
            contactLines = jDict(c["lines"]).mapValues { jInt($0) }
        } else {
            contacts = nil; contactLines = nil
        }
    }
}

enum MDFixtures {
    static let directory = Fixtures.directory
    static let reference: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("md/md_reference.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static func reference(_ name: String) -> MDReferenceCase {
        MDReferenceCase(name: name, json: jDict(jDict(reference["cases"])[name]), base: directory)
    }

    static let caseNames = ["3tvj_I", "trpcage_stride5", "ala2_stride10", "ubiquitin_10frames"]
}

/// Agreement of computed features with an MDTraj reference.
struct MDAgreement: CustomStringConvertible {
    var rmsf = 0.0, corr = 0.0, phi = 0.0, psi = 0.0, chi = 0.0
    /// Largest relative SASA error (|d| / max(ref, 0.05 nm^2)) of mean and std, and of frame 0.
    var sasaMean = 0.0, sasaStd = 0.0
    /// Fraction of (frame, residue) DSSP letters that agree, and of residues whose 8 frequencies all agree.
    var dsspLetters = 0.0, dsspResidues = 0.0
    var firstDSSPMismatch = ""

    var description: String {
        String(format: "rmsf %.2e nm, corr %.2e, phi %.2e, psi %.2e, chi %.2e, sasa mean %.3f%% std %.3f%%, dssp letters %.4f residues %.4f",
               rmsf, corr, phi, psi, chi, 100 * sasaMean, 100 * sasaStd, dsspLetters, dsspResidues)
            + (firstDSSPMismatch.isEmpty ? "" : " (\(firstDSSPMismatch))")
    }

    static func maxAbs(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
        var m = 0.0
        for i in a.indices where !b[i].isNaN { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    static func maxRel(_ a: [Double], _ b: [Double], floor: Double) -> Double {
        var m = 0.0
        for i in a.indices { m = max(m, abs(a[i] - b[i]) / max(abs(b[i]), floor)) }
        return m
    }

    init(_ f: MDFeatures, _ r: MDReferenceCase, frameLetters: [String]? = nil) {
        rmsf = Self.maxAbs(f.rmsf, r.rmsf)
        corr = Self.maxAbs(f.correlation, r.corr)
        phi = Self.maxAbs(f.phi, r.phi); psi = Self.maxAbs(f.psi, r.psi); chi = Self.maxAbs(f.chi, r.chi)
        sasaMean = Self.maxRel(f.sasaMean, r.sasaMean, floor: 0.05)
        sasaStd = Self.maxRel(f.sasaStd, r.sasaStd, floor: 0.05)
        // Reference frequencies from the per-frame letters.
        let L = r.residues, F = r.dssp.count
        var good = 0
        for i in 0 ..< L {
            var ok = true
            for (k, c) in MDDSSP.classes.enumerated() {
                let want = Double(r.dssp.filter { Array($0)[i] == c }.count) / Double(F)
                if abs(f.dssp[i * 8 + k] - want) > 1e-9 { ok = false }
            }
            if ok { good += 1 } else if firstDSSPMismatch.isEmpty {
                firstDSSPMismatch = "residue \(i): \(Array(f.dssp[(i * 8) ..< (i * 8 + 8)])) vs \(String(r.dssp.map { Array($0)[i] }))"
            }
        }
        dsspResidues = Double(good) / Double(L)
        if let letters = frameLetters {
            var same = 0, all = 0
            for (a, b) in zip(letters, r.dssp) { for (x, y) in zip(a, b) { all += 1; if x == y { same += 1 } } }
            dsspLetters = all > 0 ? Double(same) / Double(all) : 1
        } else {
            dsspLetters = .nan
        }
    }
}

/// DSSP letters per used frame (nm positions), for frame-by-frame comparison.
func mdDSSPLetters(topology: MDTopology, trajectory: URL, stride: Int) throws -> [String] {
    let reader = try openTrajectory(trajectory)
    var out: [String] = []
    var index = 0
    try reader.forEachFrame { f in
        defer { index += 1 }
        guard index % stride == 0 else { return }
        out.append(MDDSSP.assign(positions: f.positions.map { $0 * Float(0.1) }, topology: topology))
    }
    return out
}

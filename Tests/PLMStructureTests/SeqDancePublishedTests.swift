import Foundation
import Testing
@testable import PLMStructure

/// PLMKit's MD features of 3tvj_I against SeqDance's own published outputs for the
/// same trajectory excerpt (residue CSV and pair array shipped with SeqDance; copied
/// by scripts/reference/md/export_seqdance_3tvj.py): an independent reference
/// computed with MDTraj, GetContacts and SeqDance's scripts.
@Suite("MD features vs SeqDance's published 3tvj_I features")
struct SeqDancePublishedTests {
    static let dir = Fixtures.url("md/seqdance_3tvj_I")

    /// The published residue table as [38][47] in PLMKit's column order (empty cells = 0).
    static func residueTable() throws -> [[Double]] {
        let text = try String(contentsOf: dir.appendingPathComponent("3tvj_I_res_feature.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        let columns = ["sasa_mean", "sasa_std", "rmsf"] + "BEHIGST ".map { "dssp_\($0)" }
            + ["chi", "phi", "psi"].flatMap { a in (0..<12).map { "\(a)_\($0)" } }
        let index = try columns.map { c in try #require(header.firstIndex(of: c), "column \(c)") }
        return lines.dropFirst().map { row in index.map { Double(row[$0]) ?? 0 } }
    }

    @Test("every residue column, the CA correlation and all nine contact types match SeqDance's published values")
    func published() throws {
        let f = try MDFeatures.compute(topology: Fixtures.url("3tvj_I.pdb"), trajectory: Fixtures.url("3tvj_I_10frames.dcd"))
        let L = f.residueCount
        #expect(L == 38)
        let ref = try Self.residueTable()
        #expect(ref.count == L)
        let ours = f.residueFeatures
        var worst = [Double](repeating: 0, count: 47)
        for i in 0..<L { for k in 0..<47 { worst[k] = max(worst[k], abs(Double(ours[i * 47 + k]) - ref[i][k])) } }
        // SASA (nm^2) and RMSF (nm) within float32 storage; frequencies and histograms exact up to it.
        #expect(worst.max()! < 1e-5, "largest difference per column: \(worst)")
        // Pair array [38, 38, 10]: contacts per frame (upper triangle incl. diagonal), then the correlation.
        let raw = try Data(contentsOf: Self.dir.appendingPathComponent("3tvj_I_pair_feature.f64"))
        #expect(raw.count == L * L * 10 * 8)
        let pair: [Double] = raw.withUnsafeBytes { b in (0..<(L * L * 10)).map { Double(bitPattern: UInt64(littleEndian: b.load(fromByteOffset: $0 * 8, as: UInt64.self))) } }
        var corr = 0.0
        var counts = [Double](repeating: 0, count: 9), refCounts = [Double](repeating: 0, count: 9)
        for i in 0..<L {
            for j in 0..<L {
                corr = max(corr, abs(f.correlation[i * L + j] - pair[(i * L + j) * 10 + 9]))
                guard j >= i else { continue }
                for t in 0..<9 {
                    // SeqDance stores each unordered pair once; PLMKit's maps are symmetric.
                    let r = pair[(i * L + j) * 10 + t] + (i == j ? 0 : pair[(j * L + i) * 10 + t])
                    #expect(abs(f.contacts[t][i * L + j] - r) < 1e-9, "type \(t) pair (\(i), \(j)): \(f.contacts[t][i * L + j]) vs \(r)")
                    counts[t] += f.contacts[t][i * L + j] * Double(f.frameCount)
                    refCounts[t] += r * Double(f.frameCount)
                }
            }
        }
        #expect(corr < 1e-5, "correlation differs by \(corr)")
        #expect(counts.map { $0.rounded() } == refCounts.map { $0.rounded() } && refCounts[0] > 1000, "contacts per type \(counts) vs \(refCounts)")
        print("SeqDance 3tvj_I: residue columns max |diff| \(worst.max()!), correlation \(corr), contacts per type \(refCounts.map { Int($0.rounded()) })")
    }
}

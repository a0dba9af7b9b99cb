import Foundation
import Testing
@testable import PLMStructure

/// ResidueGraph against scripts/reference/graph/residue_graph.py (numpy, its own PDB parser)
/// on real structures (Fixtures/graph: 1UBI, 1AKI, 1A8O — the last has MSE residues).
@Suite struct ResidueGraphTests {
    static let reference: [String: Any] = {
        let data = try! Data(contentsOf: Fixtures.url("graph/residue_graph_reference.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    @Test(arguments: ["1UBI", "1AKI", "1A8O"])
    func edgeSetsMatchReference(name: String) throws {
        let s = try Structure.read(contentsOf: Fixtures.url("graph/\(name).pdb"), options: StructureReadOptions(firstModelOnly: true))
        let model = s.firstModel
        let chain = model.chainIDs.first { !model.caCoordinates(chain: $0).isEmpty }!
        let g = ResidueGraph.build(ca: model.caCoordinates(chain: chain))
        let ref = Self.reference[name] as! [String: Any]
        #expect(g.nodeCount == (ref["nodes"] as! NSNumber).intValue)
        let rels = ref["relations"] as! [String: Any]
        var counts: [String] = []
        for (r, relName) in ResidueGraph.relationNames.enumerated() {
            let want = (rels[relName] as! [[NSNumber]]).map { [$0[0].intValue, $0[1].intValue] }
            let got = g.edges(relation: r).map { [$0.src, $0.dst] }
            #expect(got == want, "\(name) relation \(relName): \(got.count) edges vs reference \(want.count)")
            #expect(Set(got.map { "\($0)" }).count == got.count, "\(name) \(relName): duplicate edges")
            counts.append("\(relName)=\(got.count)")
        }
        print("ResidueGraph \(name): \(g.nodeCount) nodes, \(counts.joined(separator: " "))")
        // Radius and kNN edges respect the separation; kNN has at most k in-edges per node.
        for e in g.edges(relation: ResidueGraph.radiusRelation) + g.edges(relation: ResidueGraph.knnRelation) {
            #expect(abs(e.src - e.dst) >= 5)
        }
        var indeg = [Int](repeating: 0, count: g.nodeCount)
        for e in g.edges(relation: ResidueGraph.knnRelation) { indeg[e.dst] += 1 }
        #expect(indeg.max()! <= 10)
    }

    @Test func tieBreakAndDirection() {
        // Residues on a line 1 A apart: residue 0's nearest beyond separation are 5, 6, ...;
        // with k = 6 residue 0's six nearest are 1...6, of which 5 and 6 survive the filter.
        let ca: [Double] = (0..<12).flatMap { [Double($0), 0, 0] }
        let g = ResidueGraph.build(ca: ca, radius: 5, k: 6)
        let knnInto0 = g.edges(relation: ResidueGraph.knnRelation).filter { $0.dst == 0 }.map(\.src)
        #expect(knnInto0 == [5, 6])
        // Residue 6: neighbours at distance 1..3 on both sides are 3,4,5,7,8,9 ... ties at equal
        // distance go to the lower index: nearest six = 5, 7, 4, 8, 3, 9 -> all |i-j| < 5 -> none kept.
        #expect(g.edges(relation: ResidueGraph.knnRelation).filter { $0.dst == 6 }.isEmpty)
        // Radius 5: only |i - j| == 5 pairs, both directions.
        let radius = g.edges(relation: ResidueGraph.radiusRelation)
        #expect(radius.count == 2 * 7)
        #expect(radius.allSatisfy { abs($0.src - $0.dst) == 5 })
        #expect(g.countsPerRelation[2] == 12)  // self-loops
        #expect(g.countsPerRelation[0] == 10 && g.countsPerRelation[4] == 10)
        // A tie cut by k: residue 5's nearest are 4 and 6 (1 A each); k = 1 keeps the lower index.
        let g1 = ResidueGraph.build(ca: ca, radius: 0, k: 1, minSeparation: 0)
        #expect(g1.edges(relation: ResidueGraph.knnRelation).filter { $0.dst == 5 }.map(\.src) == [4])
    }
}

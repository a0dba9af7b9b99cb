import Foundation

/// GearNet's multi-relational residue graph (3DProtLM / FusionProt, docs/RECIPES.md).
///
/// Nodes are residues 0 ..< n in chain order, placed at their CA atoms. An
/// edge `src -> dst` of relation `r` means "dst aggregates a message from src".
/// Seven relations:
/// - 0 ... 4, sequential: relation `o + 2` for offset `o` in -2 ... 2 holds
///   `i -> i + o` for every i with `0 <= i + o < n` (relation 2 is the
///   self-loop `i -> i`);
/// - 5, radius: `j -> i` for every ordered pair with `|i - j| >= minSeparation`
///   (5) and squared CA distance `<= radius^2` (10 A), both directions;
/// - 6, k nearest neighbours: for each i, the `k` (10) residues j != i nearest
///   to i, ranked by (squared distance, then index j) — ties go to the lower
///   index — and then, as torchdrug's `KNNEdge`, those with
///   `|i - j| < minSeparation` are dropped; each kept j gives `j -> i`
///   (directed: i's neighbours send to i; the reverse edge exists only if i is
///   also among j's k nearest).
///
/// Distances are computed in `Double` as `dx*dx + dy*dy + dz*dz` and compared
/// squared, so the edge sets are exact functions of the coordinates (the
/// reference `scripts/reference/graph/residue_graph.py` does the same).
/// Edges are sorted by (relation, dst, src).
public struct ResidueGraph: Equatable, Sendable {
    public static let sequentialOffsets = -2...2
    public static let radiusRelation = 5
    public static let knnRelation = 6
    public static let relationCount = 7
    public static let relationNames = ["seq-2", "seq-1", "seq0", "seq+1", "seq+2", "radius", "knn"]

    public var nodeCount: Int
    public var src: [Int32]
    public var dst: [Int32]
    public var relation: [Int32]

    public var edgeCount: Int { src.count }

    public init(nodeCount: Int, src: [Int32], dst: [Int32], relation: [Int32]) {
        precondition(src.count == dst.count && dst.count == relation.count, "ResidueGraph: edge arrays differ in length")
        self.nodeCount = nodeCount; self.src = src; self.dst = dst; self.relation = relation
    }

    /// Builds the graph from CA coordinates [n * 3] (x0, y0, z0, x1, ...).
    public static func build(ca: [Double], radius: Double = 10, k: Int = 10, minSeparation: Int = 5) -> ResidueGraph {
        precondition(ca.count % 3 == 0, "ResidueGraph: CA coordinates must be [n * 3], got \(ca.count) values")
        precondition(radius >= 0 && k >= 0 && minSeparation >= 0, "ResidueGraph: radius, k and minSeparation must be non-negative")
        let n = ca.count / 3
        // Squared distances, row-major [n, n].
        var d2 = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                let dx = ca[3 * i] - ca[3 * j], dy = ca[3 * i + 1] - ca[3 * j + 1], dz = ca[3 * i + 2] - ca[3 * j + 2]
                d2[i * n + j] = dx * dx + dy * dy + dz * dz
            }
        }
        var src: [Int32] = [], dst: [Int32] = [], rel: [Int32] = []
        func add(_ s: Int, _ d: Int, _ r: Int) { src.append(Int32(s)); dst.append(Int32(d)); rel.append(Int32(r)) }
        // Sequential: relation o + 2, i -> i + o; emitted in (dst, src) order.
        for o in sequentialOffsets {
            for d in 0..<n { let s = d - o; if s >= 0 && s < n { add(s, d, o + 2) } }
        }
        // Radius.
        let r2 = radius * radius
        for i in 0..<n {
            for j in 0..<n where abs(i - j) >= minSeparation && d2[i * n + j] <= r2 { add(j, i, radiusRelation) }
        }
        // k nearest neighbours (then the separation filter), src ascending per dst.
        if k > 0 {
            for i in 0..<n {
                var cand = Array(0..<n).filter { $0 != i }
                cand.sort { a, b in
                    let da = d2[i * n + a], db = d2[i * n + b]
                    return da != db ? da < db : a < b
                }
                let kept = cand.prefix(k).filter { abs(i - $0) >= minSeparation }.sorted()
                for j in kept { add(j, i, knnRelation) }
            }
        }
        return ResidueGraph(nodeCount: n, src: src, dst: dst, relation: rel)
    }

    /// Float coordinates (e.g. an example's `ca` feature), widened to Double.
    public static func build(ca: [Float], radius: Double = 10, k: Int = 10, minSeparation: Int = 5) -> ResidueGraph {
        build(ca: ca.map(Double.init), radius: radius, k: k, minSeparation: minSeparation)
    }

    /// Edge count per relation (length `relationCount`).
    public var countsPerRelation: [Int] {
        var c = [Int](repeating: 0, count: Self.relationCount)
        for r in relation where Int(r) < c.count { c[Int(r)] += 1 }
        return c
    }

    /// The edges of relation `r` as (src, dst) pairs.
    public func edges(relation r: Int) -> [(src: Int, dst: Int)] {
        relation.indices.filter { Int(relation[$0]) == r }.map { (Int(src[$0]), Int(dst[$0])) }
    }
}

extension ResidueGraph {
    /// The graph of CA coordinates as `StructureModel.caCoordinates(chain:)` returns them.
    public static func build(ca: [SIMD3<Double>], radius: Double = 10, k: Int = 10, minSeparation: Int = 5) -> ResidueGraph {
        build(ca: ca.flatMap { [$0.x, $0.y, $0.z] }, radius: radius, k: k, minSeparation: minSeparation)
    }
}

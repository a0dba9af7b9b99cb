import ContrastiveStructure
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMStructure
import PLMTensor

/// How residue graphs are built (shared by `residue_graph` and `fusion`).
public struct GraphSettings: Codable, Sendable, Equatable {
    public var radius: Double = 10
    public var knn: Int = 10
    public var minSeparation: Int = 5
    public init() {}
}

/// The residue graphs of a batch packed into one graph: example b's residue i
/// is node `residueOffset[b] + i`; with a structure token, example b's token
/// node is `tokenNode[b]` (after its residues), linked both ways to every
/// residue of its protein by relation `ResidueGraph.relationCount` (7).
public struct PackedGraph {
    public var nodeCount: Int
    public var relationCount: Int
    public var src: [Int32], dst: [Int32], relation: [Int32]
    /// First node of each example's residues, and their counts.
    public var residueOffset: [Int], residueCount: [Int]
    /// Token node per example (empty without structure tokens).
    public var tokenNode: [Int32]
    /// Amino-acid token id per node (the token node gets `<unk>`).
    public var nodeTypes: [Int32]

    /// The extras key of an edge-mask request: [fraction, seed] (seed < 2^24).
    public static let edgeMaskKey = "graph_edge_mask"

    /// Builds the graph of every example from its CA coordinates (feature `ca`).
    /// An example with extras `graph_edge_mask` = [p, seed] loses
    /// `Int(p * E)` of its residue-graph edges, chosen by a seeded shuffle.
    public static func build(_ examples: [Example], settings: GraphSettings, structureToken: Bool) throws -> PackedGraph {
        var g = PackedGraph(nodeCount: 0, relationCount: ResidueGraph.relationCount + (structureToken ? 1 : 0),
                            src: [], dst: [], relation: [], residueOffset: [], residueCount: [], tokenNode: [], nodeTypes: [])
        for e in examples {
            let ca = try ContrastiveStructureTarget.caCoordinates(
                e, user: "residue graph (fusion / residue_graph encoder)",
                hint: "these encoders read structures: every data source must be 'structures' or 'labelled_structures'")
            let n = ca.count / 3
            let rg = ResidueGraph.build(ca: ca, radius: settings.radius, k: settings.knn, minSeparation: settings.minSeparation)
            var keep = [Bool](repeating: true, count: rg.edgeCount)
            if let m = e.extras[edgeMaskKey], m.count == 2, m[0] > 0 {
                var rng = RNG(seed: UInt64(m[1]) &+ 0x4752_4150)  // "GRAP"
                var order = Array(0..<rg.edgeCount)
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
                for i in order.prefix(Int(m[0] * Float(rg.edgeCount))) { keep[i] = false }
            }
            let off = g.nodeCount
            for k in 0..<rg.edgeCount where keep[k] {
                g.src.append(rg.src[k] + Int32(off)); g.dst.append(rg.dst[k] + Int32(off)); g.relation.append(rg.relation[k])
            }
            g.residueOffset.append(off); g.residueCount.append(n)
            g.nodeTypes += e.tokens[1..<(1 + n)]
            g.nodeCount += n
            if structureToken {
                let t = Int32(g.nodeCount)
                for i in 0..<n {
                    let r = Int32(off + i), rel = Int32(ResidueGraph.relationCount)
                    g.src.append(r); g.dst.append(t); g.relation.append(rel)
                    g.src.append(t); g.dst.append(r); g.relation.append(rel)
                }
                g.tokenNode.append(t)
                g.nodeTypes.append(Alphabet.esm.unkIndex)
                g.nodeCount += 1
            }
        }
        return g
    }

    /// Row index `dst * R + relation` of every edge in the [N * R, d] aggregate.
    public var aggregateIndex: [Int32] {
        zip(dst, relation).map { $0 * Int32(relationCount) + $1 }
    }

    /// Node indices of every residue, example by example.
    public var residueNodes: [Int32] {
        residueOffset.indices.flatMap { b in (0..<residueCount[b]).map { Int32(residueOffset[b] + $0) } }
    }
}

/// GearNet's relational graph convolution with a shortcut:
/// `h' = ReLU(BN(W · [Σ_{j→i, r=1} h_j ‖ … ‖ Σ_{j→i, r=R} h_j] + W_self h_i)) + h_i`.
/// One Linear over the concatenated per-relation sums is the sum of per-relation
/// linear maps (`linear.weight` [d, R·d] holds W_1 … W_R side by side).
/// Children `linear`, `self_loop`, `batch_norm` (BatchNorm1d over nodes, batch
/// statistics in training, running statistics in eval mode).
public final class RelationalGraphConv: Module {
    public let dim: Int, relations: Int
    public let linear: Linear, selfLoop: Linear, batchNorm: BatchNorm1d

    public init(dim: Int, relations: Int) {
        self.dim = dim; self.relations = relations
        linear = Linear(relations * dim, dim)
        selfLoop = Linear(dim, dim)
        batchNorm = BatchNorm1d(dim)
        super.init()
        child("linear", linear); child("self_loop", selfLoop); child("batch_norm", batchNorm)
    }

    /// h [N, d] -> [N, d] on `graph` (N = graph.nodeCount).
    public func callAsFunction(_ h: Tensor, graph: PackedGraph) -> Tensor {
        let n = graph.nodeCount
        precondition(h.shape == [n, dim] && graph.relationCount == relations, "RelationalGraphConv: h \(Shape.describe(h.shape)) for \(n) nodes, \(graph.relationCount) relations (layer has \(relations))")
        let agg = h.gatherRows(graph.src).scatterAddRows(graph.aggregateIndex, rows: n * relations).reshaped([n, relations * dim])
        return batchNorm(linear(agg) + selfLoop(h)).relu() + h
    }
}

/// Torch's nn.Linear default for every Linear of `m` (Kaiming-uniform weight
/// and bias, bound 1/sqrt(fan_in)), N(0, 1) embeddings; BatchNorm stays 1 / 0.
func initializeGraphModule(_ m: Module, seed: UInt64) {
    var rng = RNG(seed: seed)
    for (_, x) in m.namedModules() {
        if let l = x as? Linear {
            Init.kaimingUniformLinear(l.weight, fanIn: l.inFeatures, rng: &rng)
            if let b = l.bias { Init.kaimingUniformLinear(b, fanIn: l.inFeatures, rng: &rng) }
        } else if let e = x as? Embedding {
            Init.normal(e.weight, std: 1, rng: &rng)
        }
    }
}

/// Residue-type embedding + a stack of relational graph convolutions.
/// Children `residue_embedding` (33 x d, the ESM vocabulary) and `layers.k`.
public final class ResidueGraphNetwork: Module {
    public let dim: Int
    public let residueEmbedding: Embedding
    public let layers: [RelationalGraphConv]

    public init(dim: Int, layers count: Int, relations: Int) {
        self.dim = dim
        residueEmbedding = Embedding(Alphabet.esm.tokens.count, dim)
        layers = (0..<count).map { _ in RelationalGraphConv(dim: dim, relations: relations) }
        super.init()
        child("residue_embedding", residueEmbedding)
        let g = child("layers", ModuleGroup())
        for (i, l) in layers.enumerated() { g.child("\(i)", l) }
    }

    /// Initial node states [N, d] from the node residue types.
    public func initialStates(_ graph: PackedGraph) -> Tensor {
        residueEmbedding(IndexTensor(shape: [graph.nodeCount], values: graph.nodeTypes))
    }

    /// Every layer's output [N, d] (GearNet concatenates them as the node feature).
    public func callAsFunction(_ graph: PackedGraph) -> [Tensor] {
        var h = initialStates(graph)
        var out: [Tensor] = []
        for l in layers { h = l(h, graph: graph); out.append(h) }
        return out
    }

    /// Node features [N, K·d] -> token space [B, T, K·d] (residue i of example b at
    /// token 1 + i; BOS, EOS, pad and structure-token rows are 0).
    public static func toTokenSpace(_ nodes: Tensor, graph: PackedGraph, batch: Int, tokens t: Int) -> Tensor {
        let w = nodes.shape[1]
        var rows: [Int32] = []
        for b in 0..<batch { for i in 0..<graph.residueCount[b] { rows.append(Int32(b * t + 1 + i)) } }
        return nodes.gatherRows(graph.residueNodes).scatterAddRows(rows, rows: batch * t).reshaped([batch, t, w])
    }
}

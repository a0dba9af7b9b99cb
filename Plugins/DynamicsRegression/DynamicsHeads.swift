import Foundation
import PLMKit
import PLMNN
import PLMTensor

// SeqDance's prediction heads (docs SEQDANCE.md "Heads"). Parameter names
// are those of the published PyTorch model (`res_pred_nn.0.weight`, …,
// `pair_pred_linear.bias`), so its head weights load without renaming.
// Shapes: B batch, T tokens, d hidden, P pair hidden, L layers, H heads,
// A = L·H attention channels, R = 50 residue columns, O = 13 pair columns.

/// `Linear(d,d) -> GELU -> LayerNorm -> Dropout -> Linear(d, out)`, named as `nn.Sequential` indices 0/2/4.
public final class HeadMLP: Module {
    public let dense: Linear, norm: LayerNorm, dropout: Dropout, out: Linear

    init(_ d: Int, _ outFeatures: Int, dropout p: Float) {
        dense = Linear(d, d)
        norm = LayerNorm(d)
        dropout = Dropout(p)
        out = Linear(d, outFeatures)
        super.init()
        child("0", dense)
        child("2", norm)
        child("3", self.dropout)   // no parameters; a child so that train(_:) reaches it
        child("4", out)
    }

    /// x [B, T, d] -> [B, T, out]
    func callAsFunction(_ x: Tensor, rng: inout RNG) -> Tensor {
        out(dropout(norm(dense(x).gelu()), rng: &rng))
    }
}

/// How the pair branch computes `mid` (see `PairMid.swift`).
public enum PairImplementation: String, Sendable, Codable {
    /// Row chunks with recomputation: never holds a [B, T, T, d] tensor (default).
    case fused
    /// Plain autograd graph: holds prod [B, T, T, d] and a few [B, T, T, P] tensors until backward.
    case autograd
}

/// The SeqDance heads: residue MLP, pair transform, pair middle and output layers.
public final class DynamicsHeads: Module {
    public let hidden: Int, pairHidden: Int, layers: Int, heads: Int
    public let residue: HeadMLP           // res_pred_nn
    public let transform: HeadMLP         // res_transform_nn
    public let pairMiddle: Linear         // pair_middle_linear [P, 2d]
    public let pairOutput: Linear         // pair_pred_linear  [O, P + A]
    public var implementation: PairImplementation
    /// Row-chunk budget of the fused pair branch, in floats of one [rows, T, d] tensor.
    public var chunkElements: Int

    public init(hidden d: Int, layers: Int, heads: Int, pairHidden: Int? = nil, dropout: Float = 0.1,
                implementation: PairImplementation = .fused, chunkElements: Int = 1 << 22) {
        hidden = d
        self.layers = layers
        self.heads = heads
        self.pairHidden = pairHidden ?? layers * heads
        residue = HeadMLP(d, SeqDanceSchema.residueColumns, dropout: dropout)
        transform = HeadMLP(d, 2 * d, dropout: dropout)
        pairMiddle = Linear(2 * d, self.pairHidden)
        pairOutput = Linear(self.pairHidden + layers * heads, SeqDanceSchema.pairColumns)
        self.implementation = implementation
        self.chunkElements = chunkElements
        super.init()
        child("res_pred_nn", residue)
        child("res_transform_nn", transform)
        child("pair_middle_linear", pairMiddle)
        child("pair_pred_linear", pairOutput)
    }

    /// PyTorch `nn.Linear` weights (U(±1/√fan_in)), zero biases (SeqDance `_init_bias_zero`), LayerNorm 1/0.
    public func initialize(seed: UInt64) {
        var rng = RNG(seed: seed)
        for (_, m) in namedModules() {
            if let l = m as? Linear {
                Init.kaimingUniformLinear(l.weight, fanIn: l.inFeatures, rng: &rng)
                if let b = l.bias { Init.constant(b, 0) }
            } else if let n = m as? LayerNorm {
                Init.constant(n.weight, 1)
                Init.constant(n.bias, 0)
            }
        }
    }

    /// Residue logits [B, T, R] from final representations [B, T, d].
    public func residueLogits(_ h: Tensor, rng: inout RNG) -> Tensor { residue(h, rng: &rng) }

    /// q, k [B, T, d] each (the pair transform's output split in halves).
    public func pairQK(_ h: Tensor, rng: inout RNG) -> (q: Tensor, k: Tensor) {
        let s = transform(h, rng: &rng)
        let parts = s.split(sizes: [hidden, hidden], axis: -1)
        return (parts[0], parts[1])
    }

    /// The attention part of the pair logits: Σ_{l,h} W_out[:, P + l·H + h] · attn_l[b, h, i, j] -> [B, T, T, O].
    /// Works per layer on [B, H, T·T] views, so the A attention channels are never copied into one tensor.
    public func attentionLogits(_ attentions: [Tensor]) -> Tensor {
        precondition(attentions.count == layers, "DynamicsHeads: \(attentions.count) attention maps, the heads were built for \(layers) layers")
        let w = pairOutput.weight.value
        var sum: Tensor? = nil
        for (l, a) in attentions.enumerated() {
            let b = a.shape[0], h = a.shape[1], t = a.shape[2]
            precondition(h == heads, "DynamicsHeads: layer \(l) has \(h) heads, expected \(heads)")
            let wl = w.slice(axis: 1, start: pairHidden + l * heads, end: pairHidden + (l + 1) * heads)  // [O, H]
            let y = a.reshaped([b, h, t * t]).matmul(wl, transposeA: true, transposeB: true)             // [B, T·T, O]
            sum = sum.map { $0 + y } ?? y
        }
        let b = attentions[0].shape[0], t = attentions[0].shape[2]
        return sum!.reshaped([b, t, t, SeqDanceSchema.pairColumns])
    }

    /// The weights of `pair_middle_linear` split by input: W1 [P, d] on prod, W2 [P, d] on diff.
    func middleWeights() -> (w1: Tensor, w2: Tensor) {
        let w = pairMiddle.weight.value
        return (w.slice(axis: 1, start: 0, end: hidden), w.slice(axis: 1, start: hidden, end: 2 * hidden))
    }

    /// The middle part of `pair_pred_linear`'s weight: Wm [O, P].
    func outputMiddleWeight() -> Tensor { pairOutput.weight.value.slice(axis: 1, start: 0, end: pairHidden) }
}

import Foundation
import PLMNN
import PLMTensor

// A small vision transformer over CA distance-map patches: the CPU-sized
// stand-in for S-PLM's Swin-Transformer v2 (docs/SPLM.md). Shapes: B batch,
// G patches per side, N = G * G patches, C channels, P patch side, d width,
// H heads, Dh = d / H.
//
// Built from PLMNN's Linear / LayerNorm and PLMTensor's attention
// probabilities rather than PLMNN's `EsmLayer`: that block's initialiser is
// internal to PLMNN and its self-attention applies ESM's rotary embedding
// to a 1-D token axis, which has no meaning on a 2-D patch grid.

/// Hyper-parameters of the distance-map encoder.
public struct StructureEncoderSettings: Equatable, Sendable {
    /// Distance thresholds d_c (Angstrom), one channel each.
    public var thresholds: [Float]
    /// Patch side P (residues).
    public var patchSize: Int
    /// Width d.
    public var dim: Int
    /// Transformer blocks.
    public var depth: Int
    /// Attention heads H.
    public var heads: Int
    /// FFN width (default 4 d).
    public var intermediate: Int
    /// Window side in patches (0: global attention in every block). With a
    /// window, every block but the last attends within non-overlapping
    /// W x W windows of patches (no shifted windows); the last block is global.
    public var window: Int
    /// "sinusoidal" (fixed 2-D sin-cos, no parameters) or "learned" (row + column tables).
    public var positions: String
    /// Patches per side the learned tables cover (inputs longer than maxGrid * P residues are refused).
    public var maxGrid: Int
    /// Dropout after attention and FFN (training mode only).
    public var dropout: Float

    public init(thresholds: [Float] = [22, 22, 22], patchSize: Int = 16, dim: Int = 64, depth: Int = 2, heads: Int = 4,
                intermediate: Int? = nil, window: Int = 0, positions: String = "sinusoidal", maxGrid: Int = 32,
                dropout: Float = 0) {
        self.thresholds = thresholds; self.patchSize = patchSize; self.dim = dim; self.depth = depth
        self.heads = heads; self.intermediate = intermediate ?? 4 * dim; self.window = window
        self.positions = positions; self.maxGrid = maxGrid; self.dropout = dropout
    }

    /// Values of one patch row: C * P * P.
    public var patchValues: Int { thresholds.count * patchSize * patchSize }
}

/// One pre-LayerNorm transformer block over patches:
/// `h = x + out(attn(LN1 x))`, `y = h + fc2(gelu(fc1(LN2 h)))`.
public final class PatchTransformerBlock: Module {
    public let norm1: LayerNorm, query: Linear, key: Linear, value: Linear, output: Linear
    public let norm2: LayerNorm, fc1: Linear, fc2: Linear
    let heads: Int, dropoutP: Float

    public init(dim: Int, heads: Int, intermediate: Int, dropout: Float) {
        precondition(dim % heads == 0, "PatchTransformerBlock: heads \(heads) must divide width \(dim)")
        norm1 = LayerNorm(dim); query = Linear(dim, dim); key = Linear(dim, dim); value = Linear(dim, dim)
        output = Linear(dim, dim); norm2 = LayerNorm(dim); fc1 = Linear(dim, intermediate); fc2 = Linear(intermediate, dim)
        self.heads = heads
        dropoutP = dropout
        super.init()
        child("norm1", norm1); child("query", query); child("key", key); child("value", value); child("output", output)
        child("norm2", norm2); child("fc1", fc1); child("fc2", fc2)
    }

    func drop(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        isTraining && dropoutP > 0 ? x.dropout(dropoutP, rng: &ctx.rng) : x
    }

    /// x [B', N', d], keyPadding [B', N'] (true = padding patch) -> [B', N', d]
    public func callAsFunction(_ x: Tensor, keyPadding: MaskTensor, ctx: ForwardContext) -> Tensor {
        let b = x.shape[0], n = x.shape[1], d = x.shape[2], dh = d / heads
        func split(_ y: Tensor) -> Tensor { y.reshaped([b, n, heads, dh]).permuted([0, 2, 1, 3]) }  // [B', H, N', Dh]
        let h0 = norm1(x)
        let q = split(query(h0)), k = split(key(h0)), v = split(value(h0))
        let probs = Tensor.attentionProbabilities(q: q, k: k, keyPaddingMask: keyPadding, scale: 1 / Float(dh).squareRoot())
        let context = probs.matmul(v).permuted([0, 2, 1, 3]).reshaped([b, n, d])
        let h = x + drop(output(context), ctx)
        return h + drop(fc2(fc1(norm2(h)).gelu()), ctx)
    }
}

/// CA distance map -> protein embedding [B, d] (masked mean over valid patches).
///
/// Parameter names: `patch_embed.{weight,bias}` ([d, C*P*P]: a Conv2d(C, d, P,
/// stride: P) weight reshaped), `row_embeddings` / `col_embeddings` [maxGrid, d]
/// (learned positions only), `blocks.i.*`, `norm.{weight,bias}`.
public final class DistanceMapEncoder: Module {
    public let settings: StructureEncoderSettings
    public let patchEmbed: Linear
    public let blocks: [PatchTransformerBlock]
    public let norm: LayerNorm
    public private(set) var rowEmbeddings: Parameter?, colEmbeddings: Parameter?
    private var sinusoidCache: [Int: Tensor] = [:]

    public init(_ s: StructureEncoderSettings) {
        settings = s
        patchEmbed = Linear(s.patchValues, s.dim)
        blocks = (0..<s.depth).map { _ in PatchTransformerBlock(dim: s.dim, heads: s.heads, intermediate: s.intermediate, dropout: s.dropout) }
        norm = LayerNorm(s.dim)
        super.init()
        child("patch_embed", patchEmbed)
        if s.positions == "learned" {
            rowEmbeddings = parameter("row_embeddings", Tensor.zeros([s.maxGrid, s.dim]))
            colEmbeddings = parameter("col_embeddings", Tensor.zeros([s.maxGrid, s.dim]))
        }
        for (i, blk) in blocks.enumerated() { child("blocks.\(i)", blk) }
        child("norm", norm)
    }

    /// Patches per side for a batch whose longest example has `length` residues.
    public func grid(forLength length: Int) -> Int {
        DistanceMapPatches.grid(length: length, patch: settings.patchSize, multiple: settings.window)
    }

    /// Builds the encoder input from CA coordinates (one [L_b * 3] array per
    /// example): patches [B, G * G, C * P * P] and the padding mask [B, G * G]
    /// (true = patch outside the example's map).
    public func patches(_ ca: [[Float]]) -> (patches: Tensor, padding: MaskTensor, grid: Int) {
        let s = settings
        let lengths = ca.map { $0.count / 3 }
        let g = grid(forLength: lengths.max() ?? 1)
        let n = g * g, row = s.patchValues
        let x = Tensor.zeros([ca.count, n, row])
        var pad = [Bool](repeating: true, count: ca.count * n)
        for (b, coords) in ca.enumerated() {
            let l = lengths[b]
            let m = DistanceMapPatches.channels(ca: coords, thresholds: s.thresholds)
            DistanceMapPatches.writePatches(channels: m, length: l, channelCount: s.thresholds.count, patch: s.patchSize,
                                            grid: g, into: x.data + b * n * row)
            for (i, ok) in DistanceMapPatches.validPatches(length: l, patch: s.patchSize, grid: g).enumerated() { pad[b * n + i] = !ok }
        }
        return (x, MaskTensor(shape: [ca.count, n], values: pad), g)
    }

    /// Fixed 2-D sin-cos positions [G * G, d]: the first d/2 channels encode
    /// the patch row, the last d/2 its column, each as [sin(p w_k), cos(p w_k)]
    /// with w_k = 10000^(-k / (d/4)), k < d/4 (MAE's 2-D sin-cos table).
    public static func sinusoidalPositions(grid g: Int, dim d: Int) -> Tensor {
        precondition(d % 4 == 0, "sinusoidal positions need a width divisible by 4, got \(d)")
        let q = d / 4
        var v = [Float](repeating: 0, count: g * g * d)
        for gy in 0..<g {
            for gx in 0..<g {
                let base = (gy * g + gx) * d
                for k in 0..<q {
                    let w = Foundation.pow(10000, -Double(k) / Double(q))
                    v[base + k] = Float(Foundation.sin(Double(gy) * w))
                    v[base + q + k] = Float(Foundation.cos(Double(gy) * w))
                    v[base + 2 * q + k] = Float(Foundation.sin(Double(gx) * w))
                    v[base + 3 * q + k] = Float(Foundation.cos(Double(gx) * w))
                }
            }
        }
        return Tensor(shape: [g * g, d], values: v)
    }

    func positions(grid g: Int) -> Tensor {
        if let r = rowEmbeddings, let c = colEmbeddings {
            precondition(g <= settings.maxGrid, "learned positions cover \(settings.maxGrid) patches per side, input needs \(g)")
            var rows = [Int32](), cols = [Int32]()
            for gy in 0..<g { for gx in 0..<g { rows.append(Int32(gy)); cols.append(Int32(gx)) } }
            return r.value.embedding(IndexTensor(shape: [g * g], values: rows)) + c.value.embedding(IndexTensor(shape: [g * g], values: cols))
        }
        if let t = sinusoidCache[g] { return t }
        let t = Self.sinusoidalPositions(grid: g, dim: settings.dim)
        sinusoidCache[g] = t
        return t
    }

    /// patches [B, G * G, C * P * P], padding [B, G * G] -> embeddings [B, d]
    public func callAsFunction(patches: Tensor, padding: MaskTensor, grid g: Int, context ctx: ForwardContext) -> Tensor {
        let b = patches.shape[0], n = g * g, d = settings.dim
        precondition(patches.shape == [b, n, settings.patchValues], "DistanceMapEncoder: patches \(Shape.describe(patches.shape)) for grid \(g)")
        var x = patchEmbed(patches) + positions(grid: g)          // [B, N, d]
        let w = settings.window
        let windowed = w > 0 && w < g
        // Window partition of the padding mask: [B * (G/W)^2, W * W].
        var windowPadding: MaskTensor? = nil
        if windowed {
            let nw = g / w
            var m = [Bool](repeating: true, count: b * n)
            for bi in 0..<b { for wy in 0..<nw { for wx in 0..<nw { for iy in 0..<w { for ix in 0..<w {
                let dst = (((bi * nw + wy) * nw + wx) * w + iy) * w + ix
                m[dst] = padding.values[bi * n + (wy * w + iy) * g + wx * w + ix]
            } } } } }
            windowPadding = MaskTensor(shape: [b * nw * nw, w * w], values: m)
        }
        for (i, blk) in blocks.enumerated() {
            if windowed && i < blocks.count - 1, let wp = windowPadding {
                let nw = g / w
                let parts = x.reshaped([b, nw, w, nw, w, d]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b * nw * nw, w * w, d])
                let y = blk(parts, keyPadding: wp, ctx: ctx)
                x = y.reshaped([b, nw, nw, w, w, d]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, n, d])
            } else {
                x = blk(x, keyPadding: padding, ctx: ctx)
            }
        }
        x = norm(x)
        // Masked mean over valid patches.
        var keep = [Float](repeating: 0, count: b * n), inv = [Float](repeating: 0, count: b)
        for bi in 0..<b {
            var c = 0
            for i in 0..<n where !padding.values[bi * n + i] { keep[bi * n + i] = 1; c += 1 }
            inv[bi] = 1 / Float(Swift.max(c, 1))
        }
        return (x * Tensor(shape: [b, n, 1], values: keep)).sum(axis: 1) * Tensor(shape: [b, 1], values: inv)
    }

    /// CA coordinates, one [L_b * 3] array per example -> embeddings [B, d].
    public func encode(_ ca: [[Float]], context: ForwardContext) -> Tensor {
        let (p, m, g) = patches(ca)
        return self(patches: p, padding: m, grid: g, context: context)
    }
}

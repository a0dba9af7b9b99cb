import Foundation
import PLMTensor

// The pair branch's middle layer and its contribution to the pair logits:
//
//   pre[b,i,j] = W1·(q_j ⊙ k_i) + W2·(q_j − k_i) + b1        (= Linear(2d, P)(cat(prod, diff)))
//              = W1·(q_j ⊙ k_i) + u[b,j] + v[b,i],  u = q·W2ᵀ + b1,  v = −k·W2ᵀ
//   mid = gelu(pre)                                           [B, T, T, P]
//   Y[b,i,j] = Wm·mid[b,i,j]                                  [B, T, T, O]  (Wm = the first P columns of W_out)
//
// The diff term is separable, so cat(prod, diff) [B, T, T, 2d] is never
// formed: u and v are [B, T, P] products computed once. The product term is
// not separable; for one protein b and a block of rows i it is one GEMM,
// (K_rows ⊙ Q) [rows·T, d] × W1ᵀ [d, P].
//
// Memory (B = 8, T = 256, d = 480, P = 240, float32): the plain graph
// `PairImplementation.autograd` keeps prod (1.0 GB) and four [B,T,T,P]
// tensors (0.5 GB each) until backward; cat(prod, diff) itself would have
// been another 2 GB. `FusedPairMid` keeps nothing of size T²·d: it runs the
// forward over row blocks of about `chunkElements` floats, returns Y, and —
// given dL/dY — recomputes each block to form the gradients of q, k, u, v,
// W1 and Wm (llm.c style: forward and backward side by side, plain loops
// plus one GEMM per product). Cost: one extra forward GEMM per pair (4 GEMMs
// of T²·d·P instead of 3). Measured on the heads alone (d 480, 12 x 20
// attention maps, B = 2, T = 256, release, 2 busy cores): fused 9.6 s and
// +0.4 GB peak RSS for loss + backward, autograd 12.5 s and +1.6 GB. Both
// match PyTorch (Tests/PLMKitTests/DynamicsParityTests.swift).
//
// PLMTensor records ops only through its internal `record`, so the fused
// gradients enter the tape as a surrogate scalar
//   S = Σ dq⊙q + Σ dk⊙k + Σ du⊙u + Σ dv⊙v + Σ dW1⊙W1 + Σ dWm⊙Wm,
// added as `S − S.detached()` (value exactly 0, gradient exactly the
// vector–Jacobian product). dL/dY must be known when the loss is built; the
// target gets it by differentiating the (cheap) pair loss with respect to a
// leaf copy of Y first (see `DynamicsTarget.pairLoss`).

/// Plain autograd version: the whole [B, T, T, d] product lives in the graph.
/// q, k [B, T, d]; u, v [B, T, P]; w1 [P, d]; wm [O, P] -> Y [B, T, T, O].
func pairMidAutograd(q: Tensor, k: Tensor, u: Tensor, v: Tensor, w1: Tensor, wm: Tensor) -> Tensor {
    let prod = q.unsqueezed(1) * k.unsqueezed(2)                       // [B, T(i), T(j), d] = q_j ⊙ k_i
    let pre = prod.matmul(w1, transposeB: true) + u.unsqueezed(1) + v.unsqueezed(2)
    return pre.gelu().matmul(wm, transposeB: true)
}

/// Row-blocked forward and recomputing backward of `pairMidAutograd` (see the file comment).
final class FusedPairMid {
    let q: Tensor, k: Tensor, u: Tensor, v: Tensor, w1: Tensor, wm: Tensor
    let b: Int, t: Int, d: Int, p: Int, o: Int
    /// Tokens per protein: pairs with i or j beyond are skipped (Y = 0 there; they are padding).
    let lengths: [Int]
    let chunkElements: Int

    init(q: Tensor, k: Tensor, u: Tensor, v: Tensor, w1: Tensor, wm: Tensor, lengths: [Int]? = nil, chunkElements: Int = 1 << 22) {
        self.q = q; self.k = k; self.u = u; self.v = v; self.w1 = w1; self.wm = wm
        b = q.shape[0]; t = q.shape[1]; d = q.shape[2]; p = w1.shape[0]; o = wm.shape[0]
        precondition(k.shape == q.shape && u.shape == [b, t, p] && v.shape == [b, t, p] && w1.shape == [p, d] && wm.shape == [o, p],
                     "FusedPairMid: shapes q \(q.shape) k \(k.shape) u \(u.shape) v \(v.shape) w1 \(w1.shape) wm \(wm.shape)")
        self.lengths = lengths ?? Array(repeating: q.shape[1], count: q.shape[0])
        self.chunkElements = chunkElements
    }

    /// Row blocks (protein, first row, rows) covering every protein's n×n valid block.
    func blocks() -> [(b: Int, i0: Int, rows: Int)] {
        var out: [(Int, Int, Int)] = []
        for bi in 0..<b {
            let n = min(lengths[bi], t)
            guard n > 0 else { continue }
            let rows = max(1, min(n, chunkElements / max(1, n * max(d, p))))
            for i0 in stride(from: 0, to: n, by: rows) { out.append((bi, i0, min(rows, n - i0))) }
        }
        return out
    }

    /// Y [B, T, T, O] (no graph).
    func forward() -> Tensor {
        let y = Tensor.zeros([b, t, t, o])
        withNoGrad {
            for blk in blocks() {
                let n = min(lengths[blk.b], t)
                let (_, pre) = preActivation(blk.b, blk.i0, blk.rows, n)
                let mid = Tensor(uninitializedShape: pre.shape)
                geluForward(pre, mid, derivative: nil)
                let yc = mid.matmul(wm, transposeB: true)               // [rows, n, O]
                scatter(yc, into: y, blk.b, blk.i0, blk.rows, n)
            }
        }
        return y
    }

    /// prod [rows, n, d] = k_i ⊙ q_j and pre [rows, n, P] = prod·W1ᵀ + u_j + v_i for rows i0..<i0+rows of protein bi.
    func preActivation(_ bi: Int, _ i0: Int, _ rows: Int, _ n: Int) -> (Tensor, Tensor) {
        let prod = Tensor(uninitializedShape: [rows, n, d])
        let pq = q.data + bi * t * d, pk = k.data + (bi * t + i0) * d, pp = prod.data
        let (dd, nn) = (d, n)
        Threads.parallelFor(rows * n, grain: max(1, 8192 / max(d, 1))) { r in
            for ij in r {
                let i = ij / nn, j = ij % nn
                let ki = pk + i * dd, qj = pq + j * dd, out = pp + ij * dd
                for c in 0..<dd { out[c] = ki[c] * qj[c] }
            }
        }
        let pre = prod.matmul(w1, transposeB: true)                     // one GEMM: [rows·n, d] × [d, P]
        let pu = u.data + bi * t * p, pv = v.data + (bi * t + i0) * p, pr = pre.data
        let pp2 = p
        Threads.parallelFor(rows * n, grain: max(1, 8192 / max(p, 1))) { r in
            for ij in r {
                let i = ij / nn, j = ij % nn
                let uj = pu + j * pp2, vi = pv + i * pp2, x = pr + ij * pp2
                for c in 0..<pp2 { x[c] += uj[c] + vi[c] }
            }
        }
        return (prod, pre)
    }

    /// Writes yc [rows, n, O] into y[bi, i0 + i, j, :].
    func scatter(_ yc: Tensor, into y: Tensor, _ bi: Int, _ i0: Int, _ rows: Int, _ n: Int) {
        let src = yc.data, dst = y.data
        for i in 0..<rows {
            (dst + ((bi * t + i0 + i) * t) * o).update(from: src + i * n * o, count: n * o)
        }
    }

    /// g [B, T, T, O] rows -> [rows, n, O].
    func gather(_ g: Tensor, _ bi: Int, _ i0: Int, _ rows: Int, _ n: Int) -> Tensor {
        let out = Tensor(uninitializedShape: [rows, n, o])
        let src = g.data, dst = out.data
        for i in 0..<rows {
            (dst + i * n * o).update(from: src + ((bi * t + i0 + i) * t) * o, count: n * o)
        }
        return out
    }

    /// Gradients of Σ g ⊙ Y with respect to q, k, u, v, W1, Wm (no graph).
    func backward(_ g: Tensor) -> (dq: Tensor, dk: Tensor, du: Tensor, dv: Tensor, dw1: Tensor, dwm: Tensor) {
        precondition(g.shape == [b, t, t, o], "FusedPairMid.backward: gradient \(g.shape), expected \([b, t, t, o])")
        let dq = Tensor.zeros(q.shape), dk = Tensor.zeros(k.shape)
        let du = Tensor.zeros(u.shape), dv = Tensor.zeros(v.shape)
        let dw1 = Tensor.zeros(w1.shape), dwm = Tensor.zeros(wm.shape)
        withNoGrad {
            for blk in blocks() {
                let (bi, i0, rows) = blk
                let n = min(lengths[bi], t)
                let (prod, pre) = preActivation(bi, i0, rows, n)
                let mid = Tensor(uninitializedShape: pre.shape)
                let dgelu = Tensor(uninitializedShape: pre.shape)
                geluForward(pre, mid, derivative: dgelu)
                let gc = gather(g, bi, i0, rows, n)                                     // [rows, n, O]
                dwm.addInPlace(gc.reshaped([rows * n, o]).matmul(mid.reshaped([rows * n, p]), transposeA: true))  // [O, P]
                let dpre = gc.matmul(wm)                                                // [rows, n, P]
                let pdp = dpre.data, pdg = dgelu.data
                Threads.parallelFor(dpre.count, grain: 1 << 14) { r in for x in r { pdp[x] *= pdg[x] } }
                // u_j gets Σ_i dpre[i, j]; v_i gets Σ_j dpre[i, j].
                let pdu = du.data + bi * t * p, pdv = dv.data + (bi * t + i0) * p, pp = p
                Threads.parallelFor(n, grain: 8) { r in
                    for j in r { for i in 0..<rows { let s = pdp + (i * n + j) * pp, dst = pdu + j * pp; for c in 0..<pp { dst[c] += s[c] } } }
                }
                Threads.parallelFor(rows, grain: 1) { r in
                    for i in r { for j in 0..<n { let s = pdp + (i * n + j) * pp, dst = pdv + i * pp; for c in 0..<pp { dst[c] += s[c] } } }
                }
                dw1.addInPlace(dpre.reshaped([rows * n, p]).matmul(prod.reshaped([rows * n, d]), transposeA: true))  // [P, d]
                let dprod = dpre.matmul(w1)                                             // [rows, n, d]
                // dq_j += Σ_i dprod[i, j] ⊙ k_i;  dk_i += Σ_j dprod[i, j] ⊙ q_j.
                let pdr = dprod.data, dd = d
                let pq = q.data + bi * t * d, pk = k.data + (bi * t + i0) * d
                let pdq = dq.data + bi * t * d, pdk = dk.data + (bi * t + i0) * d
                Threads.parallelFor(n, grain: 8) { r in
                    for j in r {
                        let dst = pdq + j * dd
                        for i in 0..<rows { let s = pdr + (i * n + j) * dd, ki = pk + i * dd; for c in 0..<dd { dst[c] += s[c] * ki[c] } }
                    }
                }
                Threads.parallelFor(rows, grain: 1) { r in
                    for i in r {
                        let dst = pdk + i * dd
                        for j in 0..<n { let s = pdr + (i * n + j) * dd, qj = pq + j * dd; for c in 0..<dd { dst[c] += s[c] * qj[c] } }
                    }
                }
            }
        }
        return (dq, dk, du, dv, dw1, dwm)
    }

    /// A scalar with value 0 whose gradient with respect to q, k, u, v, W1, Wm is
    /// that of Σ g ⊙ Y (g = dL/dY): adding it to a loss routes those gradients through the tape.
    func surrogate(_ g: Tensor) -> Tensor {
        let gr = backward(g)
        var terms: [Tensor] = []
        for (x, dx) in [(q, gr.dq), (k, gr.dk), (u, gr.du), (v, gr.dv), (w1, gr.dw1), (wm, gr.dwm)] where x.requiresGrad {
            terms.append((x * dx).sum())
        }
        guard var s = terms.first else { return Tensor(scalar: 0) }
        for x in terms.dropFirst() { s = s + x }
        return s - s.detached()
    }
}

/// mid = gelu(pre) (erf form) and, when asked, gelu'(pre), element-wise.
func geluForward(_ pre: Tensor, _ mid: Tensor, derivative: Tensor?) {
    let x = pre.data, y = mid.data, dy = derivative?.data
    let invSqrt2: Float = 0.70710678118654752440, invSqrt2Pi: Float = 0.39894228040143267794
    Threads.parallelFor(pre.count, grain: 1 << 14) { r in
        for i in r {
            let v = x[i]
            let cdf = 0.5 * (1 + erff(v * invSqrt2))
            y[i] = v * cdf
            if let dy { dy[i] = cdf + v * invSqrt2Pi * Foundation.exp(-0.5 * v * v) }
        }
    }
}

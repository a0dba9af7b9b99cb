import Foundation

extension Tensor {
    /// Rotary position embedding, GPT-NeoX "rotate half" form (ESM-2):
    /// `x·cos(θ) + rotate_half(x)·sin(θ)` with θ = pos · inv_freq repeated twice,
    /// rotate_half(x) = cat(-x₂, x₁). `self` is [..., T, Dh]; `invFreq` has Dh/2
    /// entries (load it from the checkpoint when present); positions start at
    /// `offset`.
    public func rotaryEmbedding(invFreq: [Float], offset: Int = 0) -> Tensor {
        precondition(rank >= 2, "rotaryEmbedding: need [..., T, Dh], got \(Shape.describe(shape))")
        let t = shape[rank - 2], dh = shape[rank - 1], half = dh / 2
        precondition(dh % 2 == 0 && invFreq.count == half,
                     "rotaryEmbedding: head dim \(dh) needs \(dh / 2) inverse frequencies, got \(invFreq.count)")
        // cos/sin tables [T, half], float32 as HF computes them.
        var cosT = [Float](repeating: 0, count: t * half), sinT = cosT
        for p in 0..<t {
            for i in 0..<half {
                let f = Float(p + offset) * invFreq[i]
                cosT[p * half + i] = Foundation.cos(f)
                sinT[p * half + i] = Foundation.sin(f)
            }
        }
        let mats = count / Swift.max(t * dh, 1)
        let out = Tensor(uninitializedShape: shape)
        let px = data, po = out.data
        Threads.parallelFor(mats * t, grain: 64) { r in
            for row in r {
                let p = row % t
                let x = px + row * dh, y = po + row * dh
                for i in 0..<half {
                    let c = cosT[p * half + i], s = sinT[p * half + i]
                    let x1 = x[i], x2 = x[i + half]
                    y[i] = x1 * c - x2 * s
                    y[i + half] = x2 * c + x1 * s
                }
            }
        }
        return record(out, "rotary", [self]) { g, _ in
            let gi = Tensor(uninitializedShape: g.shape)
            let pg = g.data, pi = gi.data
            Threads.parallelFor(mats * t, grain: 64) { r in
                for row in r {
                    let p = row % t
                    let dy = pg + row * dh, dx = pi + row * dh
                    for i in 0..<half {
                        let c = cosT[p * half + i], s = sinT[p * half + i]
                        dx[i] = dy[i] * c + dy[i + half] * s
                        dx[i + half] = dy[i + half] * c - dy[i] * s
                    }
                }
            }
            return [gi]
        }
    }

    /// Attention probabilities softmax(scale · q kᵀ) with masked keys.
    ///
    /// `q` [..., Tq, Dh], `k` [..., Tk, Dh] with equal leading dims (e.g. [B, H]).
    /// `keyPaddingMask` [B, Tk] (true = padding, never attended) applies to
    /// every head of batch row b. A row whose keys are all masked gets uniform
    /// weights (as HuggingFace's additive large-negative mask gives).
    /// Differentiable in q and k; the result is [..., Tq, Tk].
    public static func attentionProbabilities(q: Tensor, k: Tensor, keyPaddingMask: MaskTensor? = nil,
                                              scale: Float) -> Tensor {
        precondition(q.rank >= 3 && q.rank == k.rank && Array(q.shape.dropLast(2)) == Array(k.shape.dropLast(2))
                     && q.shape.last == k.shape.last,
                     "attention: q \(Shape.describe(q.shape)) and k \(Shape.describe(k.shape)) must be [..., T, Dh] with equal leading dims")
        let lead = Array(q.shape.dropLast(2))
        let batch = Shape.count(lead)
        let tq = q.shape[q.rank - 2], tk = k.shape[k.rank - 2], dh = q.shape[q.rank - 1]
        var maskVals: [Bool]? = nil
        var perMaskRow = batch
        if let m = keyPaddingMask {
            precondition(m.shape == [lead[0], tk],
                         "attention: key padding mask \(Shape.describe(m.shape)) must be [\(lead[0]), \(tk)] for q \(Shape.describe(q.shape))")
            maskVals = m.values
            perMaskRow = batch / lead[0]
        }
        let probs = Tensor(uninitializedShape: lead + [tq, tk])
        batchedSgemm(batch, false, true, tq, tk, dh, q.data, tq * dh, k.data, tk * dh, 0, probs.data, tq * tk, alpha: scale)
        let pp = probs.data
        Threads.parallelFor(batch * tq, grain: Swift.max(1, 2048 / Swift.max(tk, 1))) { r in
            for row in r {
                let s = pp + row * tk
                if let mv = maskVals {
                    let base = (row / tq / perMaskRow) * tk
                    var m = -Float.infinity
                    for j in 0..<tk where !mv[base + j] && s[j] > m { m = s[j] }
                    if m == -Float.infinity {  // every key masked
                        s.update(repeating: 1 / Float(tk), count: tk)
                        continue
                    }
                    var sum: Float = 0
                    for j in 0..<tk {
                        if mv[base + j] { s[j] = 0 } else { let e = Foundation.exp(s[j] - m); s[j] = e; sum += e }
                    }
                    let inv = 1 / sum
                    for j in 0..<tk { s[j] *= inv }
                } else {
                    softmaxRow(s, s, tk)
                }
            }
        }
        return record(probs, "attentionProbs", [q, k]) { g, p in
            // dS = P ⊙ (dP - rowsum(dP ⊙ P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q
            let ds = Tensor(uninitializedShape: p.shape)
            let pg = g.data, pp = p.data, pd = ds.data
            Threads.parallelFor(batch * tq, grain: Swift.max(1, 2048 / Swift.max(tk, 1))) { r in
                for row in r {
                    let a = pg + row * tk, b = pp + row * tk, c = pd + row * tk
                    var dot: Float = 0
                    for j in 0..<tk { dot += a[j] * b[j] }
                    for j in 0..<tk { c[j] = b[j] * (a[j] - dot) }
                }
            }
            var gq: Tensor? = nil, gk: Tensor? = nil
            if q.requiresGrad {
                let t = Tensor(uninitializedShape: q.shape)
                batchedSgemm(batch, false, false, tq, dh, tk, ds.data, tq * tk, k.data, tk * dh, 0, t.data, tq * dh, alpha: scale)
                gq = t
            }
            if k.requiresGrad {
                let t = Tensor(uninitializedShape: k.shape)
                batchedSgemm(batch, true, false, tk, dh, tq, ds.data, tq * tk, q.data, tq * dh, 0, t.data, tk * dh, alpha: scale)
                gk = t
            }
            return [gq, gk]
        }
    }

    /// Scaled dot-product attention: softmax(scale · q kᵀ, masked) · v.
    /// `q`, `k`, `v` are [..., T, Dh] (e.g. [B, H, T, Dh]); `scale` defaults
    /// to 1/√Dh. With `returnProbabilities` the [..., Tq, Tk] attention
    /// weights come back too, differentiable (SeqDance's pair head reads them).
    public static func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, keyPaddingMask: MaskTensor? = nil,
                                                 scale: Float? = nil, returnProbabilities: Bool = false)
        -> (output: Tensor, probabilities: Tensor?) {
        precondition(v.rank == k.rank && v.shape.dropLast() == k.shape.dropLast(),
                     "attention: v \(Shape.describe(v.shape)) must match k \(Shape.describe(k.shape)) except in its last dim")
        let s = scale ?? 1 / Float(q.shape[q.rank - 1]).squareRoot()
        let p = attentionProbabilities(q: q, k: k, keyPaddingMask: keyPaddingMask, scale: s)
        return (p.matmul(v), returnProbabilities ? p : nil)
    }
}

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
        return record(out, "rotary", [self]) { g in
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
    /// Differentiable in q and k; the result is [..., Tq, Tk]. This
    /// materialises B·H·Tq·Tk values (and keeps them for backward); when the
    /// probabilities themselves are not needed, `scaledDotProductAttention`
    /// or `multiHeadAttention` compute the same context without them.
    public static func attentionProbabilities(q: Tensor, k: Tensor, keyPaddingMask: MaskTensor? = nil,
                                              scale: Float) -> Tensor {
        precondition(q.rank >= 3 && q.rank == k.rank && Array(q.shape.dropLast(2)) == Array(k.shape.dropLast(2))
                     && q.shape.last == k.shape.last,
                     "attention: q \(Shape.describe(q.shape)) and k \(Shape.describe(k.shape)) must be [..., T, Dh] with equal leading dims")
        let lead = Array(q.shape.dropLast(2))
        let batch = Shape.count(lead)
        let tq = q.shape[q.rank - 2], tk = k.shape[k.rank - 2], dh = q.shape[q.rank - 1]
        let mask = KeyMask(keyPaddingMask, lead: lead, tk: tk, q: q.shape)
        let probs = Tensor(uninitializedShape: lead + [tq, tk])
        let pp = probs.data, pq = q.data, pk = k.data
        mask.withRows { maskRow in
            if batch >= Threads.count {
                // Scores and softmax of one item at a time per pool thread,
                // while its Tq·Tk block is still in cache.
                Threads.parallelItemsWithSingleThreadedBLAS(batch) { range in
                    for i in range {
                        let s = pp + i * tq * tk
                        sgemm(false, true, tq, tk, dh, scale, pq + i * tq * dh, dh, pk + i * tk * dh, dh, 0, s, tk)
                        let mr = maskRow(i)
                        for r in 0..<tq { _ = maskedSoftmaxRow(s + r * tk, tk, mr) }
                    }
                }
            } else {
                batchedSgemm(batch, false, true, tq, tk, dh, pq, tq * dh, pk, tk * dh, 0, pp, tq * tk, alpha: scale)
                Threads.parallelFor(batch * tq, grain: Swift.max(1, 2048 / Swift.max(tk, 1))) { r in
                    for row in r { _ = maskedSoftmaxRow(pp + row * tk, tk, maskRow(row / tq)) }
                }
            }
        }
        return recordSavingOutput(probs, "attentionProbs", [q, k]) { g, p in
            // dS = P ⊙ (dP - rowsum(dP ⊙ P)); dQ = scale·dS·K; dK = scale·dSᵀ·Q
            if batch >= Threads.count {
                // One item at a time per pool thread, dS in a per-thread
                // scratch block: no B·H·Tq·Tk dS tensor next to P and dP.
                let gq = q.requiresGrad ? Tensor(uninitializedShape: q.shape) : nil
                let gk = k.requiresGrad ? Tensor(uninitializedShape: k.shape) : nil
                let pg = g.data, pp = p.data, pq = q.data, pk = k.data
                let pgq = gq?.data, pgk = gk?.data
                Threads.parallelItemsWithSingleThreadedBLAS(batch) { range in
                    withScratch(tq * tk) { ds in
                        for i in range {
                            let base = i * tq * tk
                            for r in 0..<tq { softmaxBackwardRow(pg + base + r * tk, pp + base + r * tk, ds + r * tk, tk) }
                            if let pgq { sgemm(false, false, tq, dh, tk, scale, ds, tk, pk + i * tk * dh, dh, 0, pgq + i * tq * dh, dh) }
                            if let pgk { sgemm(true, false, tk, dh, tq, scale, ds, tk, pq + i * tq * dh, dh, 0, pgk + i * tk * dh, dh) }
                        }
                    }
                }
                return [gq, gk]
            }
            let ds = Tensor(uninitializedShape: p.shape)
            let pg = g.data, pp = p.data, pd = ds.data
            Threads.parallelFor(batch * tq, grain: Swift.max(1, 2048 / Swift.max(tk, 1))) { r in
                for row in r { softmaxBackwardRow(pg + row * tk, pp + row * tk, pd + row * tk, tk) }
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
    /// Without, the fused kernel runs (see `multiHeadAttention`): the
    /// probabilities are never stored, and backward recomputes them.
    public static func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, keyPaddingMask: MaskTensor? = nil,
                                                 scale: Float? = nil, returnProbabilities: Bool = false)
        -> (output: Tensor, probabilities: Tensor?) {
        precondition(v.rank == k.rank && v.shape.dropLast() == k.shape.dropLast(),
                     "attention: v \(Shape.describe(v.shape)) must match k \(Shape.describe(k.shape)) except in its last dim")
        let s = scale ?? 1 / Float(q.shape[q.rank - 1]).squareRoot()
        if returnProbabilities {
            let p = attentionProbabilities(q: q, k: k, keyPaddingMask: keyPaddingMask, scale: s)
            return (p.matmul(v), p)
        }
        precondition(q.rank >= 3 && q.rank == k.rank && Array(q.shape.dropLast(2)) == Array(k.shape.dropLast(2))
                     && q.shape.last == k.shape.last,
                     "attention: q \(Shape.describe(q.shape)) and k \(Shape.describe(k.shape)) must be [..., T, Dh] with equal leading dims")
        let lead = Array(q.shape.dropLast(2))
        let tq = q.shape[q.rank - 2], tk = k.shape[k.rank - 2], dh = q.shape[q.rank - 1], dv = v.shape[v.rank - 1]
        let layout = AttentionLayout(items: Shape.count(lead), tq: tq, tk: tk, dh: dh, dv: dv,
                                     ldq: dh, ldk: dh, ldv: dv, heads: 1, headMajor: true)
        let mask = KeyMask(keyPaddingMask, lead: lead, tk: tk, q: q.shape)
        let out = fusedAttention(q: q, k: k, v: v, outShape: lead + [tq, dv], layout: layout, mask: mask,
                                 qScale: 1, alpha: s, rotary: nil)
        return (out, nil)
    }

    /// Fused multi-head self-attention on token-major projections, the
    /// layout Linear layers produce: `q`, `k`, `v` [B, T, H·Dh] (head h in
    /// columns h·Dh..<(h+1)·Dh, as HF's view(B, T, H, Dh)); result [B, T, H·Dh]
    /// with the heads already merged. Computes
    /// `softmax(rot(scale·q_h) rot(k_h)ᵀ, masked) v_h` per batch row and head
    /// without materialising the B·H·T·T probabilities and without the head
    /// split/merge permute copies; only the per-row log-sum-exp [B, H, T] is
    /// kept, and backward recomputes the probabilities one head at a time.
    /// `rotaryInvFreq` (Dh/2 entries) applies ESM-2's rotate-half rotary
    /// embedding at positions 0..<T after scaling q (as `rotaryEmbedding`).
    /// `keyPaddingMask` [B, T] as in `attentionProbabilities`.
    /// Equal (up to float rounding of the GEMMs) to
    /// `attentionProbabilities(q: rot(split(q)·scale), k: rot(split(k)), scale: 1).matmul(split(v))` merged.
    public static func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, keyPaddingMask: MaskTensor? = nil,
                                          scale: Float, rotaryInvFreq: [Float]? = nil) -> Tensor {
        precondition(q.rank == 3 && k.shape == q.shape && v.shape == q.shape,
                     "multiHeadAttention: q \(Shape.describe(q.shape)), k \(Shape.describe(k.shape)), v \(Shape.describe(v.shape)) must all be [B, T, H·Dh]")
        let b = q.shape[0], t = q.shape[1], hd = q.shape[2]
        precondition(heads >= 1 && hd % heads == 0, "multiHeadAttention: \(heads) heads do not divide width \(hd)")
        let dh = hd / heads
        var rotary: RotaryTables? = nil
        if let inv = rotaryInvFreq {
            precondition(dh % 2 == 0 && inv.count == dh / 2,
                         "multiHeadAttention: head dim \(dh) needs \(dh / 2) inverse frequencies, got \(inv.count)")
            rotary = RotaryTables(invFreq: inv, positions: t, offset: 0)
        }
        let layout = AttentionLayout(items: b * heads, tq: t, tk: t, dh: dh, dv: dh,
                                     ldq: hd, ldk: hd, ldv: hd, heads: heads, headMajor: false)
        let mask = KeyMask(keyPaddingMask, lead: [b, heads], tk: t, q: [b, heads, t, dh])
        return fusedAttention(q: q, k: k, v: v, outShape: [b, t, hd], layout: layout, mask: mask,
                              qScale: scale, alpha: 1, rotary: rotary)
    }
}

// MARK: Attention internals

/// cos/sin tables [T, Dh/2] of a rotary embedding, float32 as HF computes them.
struct RotaryTables {
    let half: Int
    let cos: [Float], sin: [Float]

    init(invFreq: [Float], positions t: Int, offset: Int) {
        half = invFreq.count
        var c = [Float](repeating: 0, count: t * half), s = c
        for p in 0..<t {
            for i in 0..<half {
                let f = Float(p + offset) * invFreq[i]
                c[p * half + i] = Foundation.cos(f)
                s[p * half + i] = Foundation.sin(f)
            }
        }
        cos = c; sin = s
    }
}

/// Key-padding mask of an attention call, resolved to one Bool row per
/// attention item (batch row b serves all its heads).
struct KeyMask {
    let values: [Bool]?
    let tk: Int
    let itemsPerRow: Int

    init(_ m: MaskTensor?, lead: [Int], tk: Int, q: [Int]) {
        self.tk = tk
        let items = Shape.count(lead)
        if let m {
            precondition(m.shape == [lead[0], tk],
                         "attention: key padding mask \(Shape.describe(m.shape)) must be [\(lead[0]), \(tk)] for q \(Shape.describe(q))")
            values = m.values.contains(true) ? m.values : nil   // nothing masked: the plain path
            itemsPerRow = lead[0] > 0 ? items / lead[0] : 1
        } else {
            values = nil
            itemsPerRow = 1
        }
    }

    /// Runs `body` with a lookup item -> its mask row (nil: nothing masked).
    func withRows<R>(_ body: ((Int) -> UnsafePointer<Bool>?) -> R) -> R {
        guard let values else { return body { _ in nil } }
        return values.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!, tk = self.tk, per = itemsPerRow
            return body { item in base + (item / per) * tk }
        }
    }
}

/// Softmax of one row of scores in place with masked keys set to 0; a row
/// whose keys are all masked becomes uniform. Returns the row's
/// log-sum-exp (+inf for an all-masked row, which backward treats as uniform).
@inline(__always)
func maskedSoftmaxRow(_ s: UnsafeMutablePointer<Float>, _ tk: Int, _ mask: UnsafePointer<Bool>?) -> Float {
    if let mask {
        var any = false
        for j in 0..<tk { if mask[j] { s[j] = -.infinity } else { any = true } }
        if !any {
            s.update(repeating: 1 / Float(tk), count: tk)
            return .infinity
        }
    }
    var m = rowMax(s, tk)
    if m == -Float.infinity { m = 0 }
    let sum = rowExpShifted(s, s, tk, m)
    rowScale(s, tk, 1 / sum)
    return m + Foundation.log(sum)
}

/// Where the rows of attention item i live. Head-major: q, k, v, out are
/// [items, T, D] contiguous. Token-major: [B, T, H·D] with item = b·H + h.
struct AttentionLayout {
    let items: Int, tq: Int, tk: Int, dh: Int, dv: Int
    let ldq: Int, ldk: Int, ldv: Int
    let heads: Int
    let headMajor: Bool

    @inline(__always) func qOffset(_ i: Int) -> Int { headMajor ? i * tq * dh : (i / heads) * tq * ldq + (i % heads) * dh }
    @inline(__always) func kOffset(_ i: Int) -> Int { headMajor ? i * tk * dh : (i / heads) * tk * ldk + (i % heads) * dh }
    @inline(__always) func vOffset(_ i: Int) -> Int { headMajor ? i * tk * dv : (i / heads) * tk * ldv + (i % heads) * dv }
    var ldo: Int { headMajor ? dv : ldv }
}

/// dst[T, Dh] (contiguous) = rot(scale · src rows) (rot = identity without tables).
@inline(__always)
func loadRotated(_ src: UnsafePointer<Float>, ld: Int, rows: Int, dh: Int, scale: Float, rotary: RotaryTables?,
                 _ cosT: UnsafePointer<Float>?, _ sinT: UnsafePointer<Float>?, into dst: UnsafeMutablePointer<Float>) {
    if let rot = rotary, let cosT, let sinT {
        let half = rot.half
        for p in 0..<rows {
            let x = src + p * ld, y = dst + p * dh
            for i in 0..<half {
                let c = cosT[p * half + i], s = sinT[p * half + i]
                let x1 = x[i] * scale + 0, x2 = x[i + half] * scale + 0
                y[i] = x1 * c - x2 * s
                y[i + half] = x2 * c + x1 * s
            }
        }
    } else if scale == 1 {
        for p in 0..<rows { (dst + p * dh).update(from: src + p * ld, count: dh) }
    } else {
        for p in 0..<rows {
            let x = src + p * ld, y = dst + p * dh
            for i in 0..<dh { y[i] = x[i] * scale + 0 }
        }
    }
}

/// dst rows (stride ld) = scale · rotᵀ(src[T, Dh]) — the adjoint of `loadRotated`.
@inline(__always)
func storeUnrotated(_ src: UnsafePointer<Float>, rows: Int, dh: Int, scale: Float, rotary: RotaryTables?,
                    _ cosT: UnsafePointer<Float>?, _ sinT: UnsafePointer<Float>?,
                    into dst: UnsafeMutablePointer<Float>, ld: Int) {
    if let rot = rotary, let cosT, let sinT {
        let half = rot.half
        for p in 0..<rows {
            let dy = src + p * dh, dx = dst + p * ld
            for i in 0..<half {
                let c = cosT[p * half + i], s = sinT[p * half + i]
                dx[i] = (dy[i] * c + dy[i + half] * s) * scale
                dx[i + half] = (dy[i + half] * c - dy[i] * s) * scale
            }
        }
    } else if scale == 1 {
        for p in 0..<rows { (dst + p * ld).update(from: src + p * dh, count: dh) }
    } else {
        for p in 0..<rows {
            let dy = src + p * dh, dx = dst + p * ld
            for i in 0..<dh { dx[i] = dy[i] * scale }
        }
    }
}

/// Scratch floats from the storage pool for the duration of `body`.
@inline(__always)
func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let (p, capacity) = StoragePool.allocate(floats: count)
    defer { StoragePool.release(p, capacity: capacity) }
    return body(p)
}

/// The fused attention op: forward per item (S = α·q̃ k̃ᵀ, masked softmax,
/// O = P v), items split over the pool with OpenBLAS on one thread; saves
/// q, k, v and the row log-sum-exps. q̃ = rot(qScale·q), k̃ = rot(k).
func fusedAttention(q: Tensor, k: Tensor, v: Tensor, outShape: [Int], layout L: AttentionLayout, mask: KeyMask,
                    qScale: Float, alpha: Float, rotary: RotaryTables?) -> Tensor {
    let out = Tensor(uninitializedShape: outShape)
    let lse = Tensor(uninitializedShape: [L.items, L.tq])
    let tq = L.tq, tk = L.tk, dh = L.dh, dv = L.dv
    let pq = q.data, pk = k.data, pv = v.data, po = out.data, pl = lse.data
    let cosBuf = rotary?.cos ?? [], sinBuf = rotary?.sin ?? []
    cosBuf.withUnsafeBufferPointer { cb in sinBuf.withUnsafeBufferPointer { sb in
        let cosT = rotary == nil ? nil : cb.baseAddress, sinT = rotary == nil ? nil : sb.baseAddress
        mask.withRows { maskRow in
            Threads.parallelItemsWithSingleThreadedBLAS(L.items) { range in
                withScratch(tq * tk + tq * dh + tk * dh) { scratch in
                    let s = scratch, qt = scratch + tq * tk, kt = qt + tq * dh
                    for i in range {
                        loadRotated(pq + L.qOffset(i), ld: L.ldq, rows: tq, dh: dh, scale: qScale, rotary: rotary, cosT, sinT, into: qt)
                        loadRotated(pk + L.kOffset(i), ld: L.ldk, rows: tk, dh: dh, scale: 1, rotary: rotary, cosT, sinT, into: kt)
                        sgemm(false, true, tq, tk, dh, alpha, qt, dh, kt, dh, 0, s, tk)
                        let mr = maskRow(i)
                        for r in 0..<tq { pl[i * tq + r] = maskedSoftmaxRow(s + r * tk, tk, mr) }
                        sgemm(false, false, tq, dv, tk, 1, s, tk, pv + L.vOffset(i), L.ldv, 0, po + L.qOffsetOut(i, dv: dv), L.ldo)
                    }
                }
            }
        }
    } }
    return record(out, "fusedAttention", [q, k, v]) { g in
        let gq = q.requiresGrad ? Tensor(uninitializedShape: q.shape) : nil
        let gk = k.requiresGrad ? Tensor(uninitializedShape: k.shape) : nil
        let gv = v.requiresGrad ? Tensor(uninitializedShape: v.shape) : nil
        if gq == nil && gk == nil && gv == nil { return [nil, nil, nil] }
        let pq = q.data, pk = k.data, pv = v.data, pg = g.data, pl = lse.data
        let pgq = gq?.data, pgk = gk?.data, pgv = gv?.data
        cosBuf.withUnsafeBufferPointer { cb in sinBuf.withUnsafeBufferPointer { sb in
            let cosT = rotary == nil ? nil : cb.baseAddress, sinT = rotary == nil ? nil : sb.baseAddress
            mask.withRows { maskRow in
                Threads.parallelItemsWithSingleThreadedBLAS(L.items) { range in
                    let scratchCount = 2 * tq * tk + 2 * tq * dh + 2 * tk * dh
                    withScratch(scratchCount) { scratch in
                        let p = scratch, dp = p + tq * tk
                        let qt = dp + tq * tk, kt = qt + tq * dh, dqt = kt + tk * dh, dkt = dqt + tq * dh
                        for i in range {
                            loadRotated(pq + L.qOffset(i), ld: L.ldq, rows: tq, dh: dh, scale: qScale, rotary: rotary, cosT, sinT, into: qt)
                            loadRotated(pk + L.kOffset(i), ld: L.ldk, rows: tk, dh: dh, scale: 1, rotary: rotary, cosT, sinT, into: kt)
                            // P again: e^(α q̃k̃ᵀ - lse), masked keys 0, uniform rows where every key is masked.
                            sgemm(false, true, tq, tk, dh, alpha, qt, dh, kt, dh, 0, p, tk)
                            let mr = maskRow(i)
                            for r in 0..<tq {
                                let row = p + r * tk, l = pl[i * tq + r]
                                if l == .infinity { row.update(repeating: 1 / Float(tk), count: tk); continue }
                                if let mr { for j in 0..<tk where mr[j] { row[j] = -.infinity } }
                                _ = rowExpShifted(row, row, tk, l)
                            }
                            let go = pg + L.qOffsetOut(i, dv: dv)
                            // dV = Pᵀ dO ; dP = dO Vᵀ
                            if let pgv {
                                sgemm(true, false, tk, dv, tq, 1, p, tk, go, L.ldo, 0, pgv + L.vOffset(i), L.ldv)
                            }
                            if pgq == nil && pgk == nil { continue }
                            sgemm(false, true, tq, tk, dv, 1, go, L.ldo, pv + L.vOffset(i), L.ldv, 0, dp, tk)
                            // dS = P ⊙ (dP - rowsum(dP ⊙ P))
                            for r in 0..<tq { softmaxBackwardRow(dp + r * tk, p + r * tk, dp + r * tk, tk) }
                            if let pgq {  // dq = qScale · rotᵀ(α dS k̃)
                                sgemm(false, false, tq, dh, tk, alpha, dp, tk, kt, dh, 0, dqt, dh)
                                storeUnrotated(dqt, rows: tq, dh: dh, scale: qScale, rotary: rotary, cosT, sinT,
                                               into: pgq + L.qOffset(i), ld: L.ldq)
                            }
                            if let pgk {  // dk = rotᵀ(α dSᵀ q̃)
                                sgemm(true, false, tk, dh, tq, alpha, dp, tk, qt, dh, 0, dkt, dh)
                                storeUnrotated(dkt, rows: tk, dh: dh, scale: 1, rotary: rotary, cosT, sinT,
                                               into: pgk + L.kOffset(i), ld: L.ldk)
                            }
                        }
                    }
                }
            }
        } }
        return [gq, gk, gv]
    }
}

extension AttentionLayout {
    /// Offset of item i's output rows (token-major output shares q's layout).
    @inline(__always) func qOffsetOut(_ i: Int, dv: Int) -> Int {
        headMajor ? i * tq * dv : (i / heads) * tq * ldv + (i % heads) * dv
    }
}

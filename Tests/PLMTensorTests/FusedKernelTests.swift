import Foundation
import PLMTensor
import Testing

/// The fused kernels added for performance (multi-head attention without
/// stored probabilities, linear with the bias inside the GEMM, the vectorised
/// GELU/exp/softmax), checked three ways: central-difference gradients, equality
/// with the unfused composition they replace (forward and every gradient),
/// and closeness to double-precision references.
@Suite("Fused kernels")
struct FusedKernelTests {
    /// max |a - b| / max(max |b|, 1e-30)
    static func rel(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var d = 0.0, m = 0.0
        for (x, y) in zip(a, b) { d = max(d, Double(abs(x - y))); m = max(m, Double(abs(y))) }
        return d / max(m, 1e-30)
    }

    /// The unfused ESM path: split heads, scale, rotary, probabilities, P·V, merge.
    static func unfusedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, mask: MaskTensor?,
                                 scale: Float, inv: [Float]?) -> Tensor {
        let b = q.shape[0], t = q.shape[1], dh = q.shape[2] / heads
        func split(_ y: Tensor) -> Tensor { y.reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3]) }
        var qh = split(q) * scale, kh = split(k)
        if let inv { qh = qh.rotaryEmbedding(invFreq: inv); kh = kh.rotaryEmbedding(invFreq: inv) }
        let p = Tensor.attentionProbabilities(q: qh, k: kh, keyPaddingMask: mask, scale: 1)
        return p.matmul(split(v)).permuted([0, 2, 1, 3]).reshaped([b, t, heads * dh])
    }

    static func invFreq(_ dh: Int) -> [Float] {
        (0..<(dh / 2)).map { 1 / Foundation.pow(10000, Float(2 * $0) / Float(dh)) }
    }

    static func mask(_ b: Int, _ t: Int, allMaskedRow: Bool) -> MaskTensor {
        var m = [Bool](repeating: false, count: b * t)
        if t > 2 { m[t - 1] = true; m[t - 2] = true }                  // pad the end of row 0
        if allMaskedRow && b > 1 { for j in 0..<t { m[t + j] = true } }  // row 1: every key masked
        return MaskTensor(shape: [b, t], values: m)
    }

    @Test("multiHeadAttention: central-difference gradients", arguments: [(1, 1, 1, 2, false), (2, 3, 5, 4, true), (1, 2, 7, 6, true), (3, 2, 4, 2, false)])
    func mhaGradients(_ dims: (Int, Int, Int, Int, Bool)) {
        let (b, h, t, dh, rotary) = dims
        let inv = rotary ? Self.invFreq(dh) : nil
        let m = Self.mask(b, t, allMaskedRow: false)
        gradCheck("multiHeadAttention", [rand([b, t, h * dh], 201), rand([b, t, h * dh], 202), rand([b, t, h * dh], 203)]) {
            Tensor.multiHeadAttention(q: $0[0], k: $0[1], v: $0[2], heads: h, keyPaddingMask: m, scale: 0.8, rotaryInvFreq: inv)
        }
        gradCheck("multiHeadAttention no mask", [rand([b, t, h * dh], 204), rand([b, t, h * dh], 205), rand([b, t, h * dh], 206)]) {
            Tensor.multiHeadAttention(q: $0[0], k: $0[1], v: $0[2], heads: h, scale: 1.1, rotaryInvFreq: inv)
        }
    }

    @Test("multiHeadAttention equals the unfused split/rotary/probabilities/matmul/merge path, forward and gradients",
          arguments: [(2, 3, 9, 8, true), (3, 4, 16, 6, true), (2, 20, 33, 16, false)])
    func mhaMatchesUnfused(_ dims: (Int, Int, Int, Int, Bool)) {
        let (b, h, t, dh, rotary) = dims
        let inv = rotary ? Self.invFreq(dh) : nil
        let m = Self.mask(b, t, allMaskedRow: true)
        let scale = 1 / Float(dh).squareRoot()
        let xs = [rand([b, t, h * dh], 211), rand([b, t, h * dh], 212), rand([b, t, h * dh], 213)]
        let w = rand([b, t, h * dh], 214)
        func run(_ f: ([Tensor]) -> Tensor) -> ([Float], [[Float]]) {
            let ins = xs.map { Tensor(shape: $0.shape, values: $0.toArray(), requiresGrad: true) }
            let y = f(ins)
            (y * w).sum().backward()
            return (y.toArray(), ins.map { $0.grad!.toArray() })
        }
        let fused = run { Tensor.multiHeadAttention(q: $0[0], k: $0[1], v: $0[2], heads: h, keyPaddingMask: m, scale: scale, rotaryInvFreq: inv) }
        let plain = run { Self.unfusedAttention($0[0], $0[1], $0[2], heads: h, mask: m, scale: scale, inv: inv) }
        #expect(Self.rel(fused.0, plain.0) < 1e-6, "forward rel \(Self.rel(fused.0, plain.0))")
        for (i, name) in ["q", "k", "v"].enumerated() {
            let e = Self.rel(fused.1[i], plain.1[i])
            #expect(e < 1e-5, "gradient of \(name): rel \(e)")
        }
    }

    @Test("fused scaledDotProductAttention equals the probabilities path, forward and gradients")
    func sdpaFusedMatchesProbabilities() {
        let (b, h, t, dh) = (2, 3, 11, 5)
        let m = Self.mask(b, t, allMaskedRow: true)
        let xs = [rand([b, h, t, dh], 221), rand([b, h, t, dh], 222), rand([b, h, t, dh], 223)]
        let w = rand([b, h, t, dh], 224)
        func run(_ probs: Bool) -> ([Float], [[Float]]) {
            let ins = xs.map { Tensor(shape: $0.shape, values: $0.toArray(), requiresGrad: true) }
            let y = Tensor.scaledDotProductAttention(q: ins[0], k: ins[1], v: ins[2], keyPaddingMask: m, returnProbabilities: probs).output
            (y * w).sum().backward()
            return (y.toArray(), ins.map { $0.grad!.toArray() })
        }
        let fused = run(false), plain = run(true)
        #expect(Self.rel(fused.0, plain.0) < 1e-6)
        for i in 0..<3 { #expect(Self.rel(fused.1[i], plain.1[i]) < 1e-5, "gradient \(i): \(Self.rel(fused.1[i], plain.1[i]))") }
    }

    @Test("multiHeadAttention gives the same bits for every thread count")
    func mhaThreadIndependence() {
        let saved = Threads.count
        defer { Threads.configure(saved) }
        let (b, h, t, dh) = (2, 5, 37, 8)
        var outs: [[Float]] = []
        for n in [1, 2, 3] {
            Threads.configure(n)
            let xs = [rand([b, t, h * dh], 231), rand([b, t, h * dh], 232), rand([b, t, h * dh], 233)]
            for x in xs { x.requiresGrad = true }
            let y = Tensor.multiHeadAttention(q: xs[0], k: xs[1], v: xs[2], heads: h, keyPaddingMask: Self.mask(b, t, allMaskedRow: false),
                                              scale: 0.3, rotaryInvFreq: Self.invFreq(dh))
            (y * rand(y.shape, 234)).sum().backward()
            outs.append(y.toArray() + xs.flatMap { $0.grad!.toArray() })
        }
        #expect(outs[0] == outs[1])
        #expect(outs[1] == outs[2])
    }

    @Test("the parallelised kernels give the same bits (forward and gradients) for every thread count")
    func parallelKernelsThreadIndependence() {
        let saved = Threads.count
        defer { Threads.configure(saved) }
        var outs: [[Float]] = []
        for n in [1, 2, 3] {
            Threads.configure(n)
            let x = rand([6, 50, 40], 261), w = rand([40], 262), b = rand([40], 263)
            let table = rand([33, 40], 264), rowScale = rand([6, 50, 1], 265)
            for t in [x, w, b, table] { t.requiresGrad = true }
            let ids = IndexTensor(shape: [6, 50], values: (0..<300).map { Int32(($0 * 7) % 33) })
            let emb = table.embedding(ids, paddingIndex: 1)                      // [6, 50, 40]
            let h = ((x + emb) * rowScale).layerNorm(weight: w, bias: b)         // row-scalar mul, LN
            let y = (h + b).gelu().permuted([1, 0, 2])                           // bias add, GELU, permute
            let logits = y.reshaped([300, 40]).slice(axis: 1, start: 0, end: 33)
            let targets = IndexTensor(shape: [300], values: (0..<300).map { Int32($0 % 5 == 0 ? -100 : $0 % 33) })
            let loss = logits.crossEntropy(targets: targets) + y.sum(axes: [0, 1]).sum() * 1e-3
            loss.backward()
            outs.append(y.toArray() + [loss.item()] + [x, w, b, table].flatMap { $0.grad!.toArray() })
        }
        #expect(outs[0] == outs[1])
        #expect(outs[1] == outs[2])
    }

    @Test("multiHeadAttention does not keep B·H·T·T values for backward")
    func mhaMemory() {
        let (b, h, t, dh) = (2, 8, 128, 8)
        let xs = [rand([b, t, h * dh], 241), rand([b, t, h * dh], 242), rand([b, t, h * dh], 243)]
        for x in xs { x.requiresGrad = true }
        weak var outRef: Tensor?
        var loss: Tensor
        do {
            let y = Tensor.multiHeadAttention(q: xs[0], k: xs[1], v: xs[2], heads: h, scale: 0.35)
            outRef = y
            loss = y.sum()
        }
        // The output is not saved (sum keeps nothing); only q, k, v and the
        // [B, H, T] log-sum-exps are. A probabilities tensor would be B·H·T·T.
        #expect(outRef == nil)
        loss.backward()
        #expect(xs.allSatisfy { $0.grad != nil })
    }

    /// Bytes held for backward after the forward, measured in a child process (MemoryStats is
    /// process-wide and other tests allocate concurrently): the fused kernel keeps about q, k, v
    /// and [B, H, T] log-sum-exps; the unfused path (probabilities requested) keeps B·H·T·T.
    @Test("multiHeadAttention keeps far less than B·H·T·T floats for backward; the unfused path keeps them")
    func mhaMemoryBytes() async {
        await #expect(processExitsWith: .success) {
            let (b, h, t, dh) = (2, 8, 256, 8)
            let probs = b * h * t * t * 4
            func held(_ fused: Bool) -> Int {
                let xs = [rand([b, t, h * dh], 251), rand([b, t, h * dh], 252), rand([b, t, h * dh], 253)]
                for x in xs { x.requiresGrad = true }
                let before = MemoryStats.liveBytes
                var loss: Tensor
                do {
                    if fused {
                        loss = Tensor.multiHeadAttention(q: xs[0], k: xs[1], v: xs[2], heads: h, scale: 0.35).sum()
                    } else {
                        let split = xs.map { $0.reshaped([b, t, h, dh]).permuted([0, 2, 1, 3]) }
                        loss = Tensor.scaledDotProductAttention(q: split[0], k: split[1], v: split[2], scale: 0.35, returnProbabilities: true).output.sum()
                    }
                }
                let bytes = MemoryStats.liveBytes - before
                loss.backward()
                return bytes
            }
            let fused = held(true), unfused = held(false)
            print("held for backward: fused \(fused) bytes, unfused \(unfused) bytes, B·H·T·T floats \(probs) bytes")
            exit(fused < probs / 4 && unfused >= probs ? 0 : 1)
        }
    }

    @Test("linear: gradients, and equality with matmul + bias", arguments: [(1, 1, 1), (3, 5, 4), (2 * 7, 33, 65)])
    func linear(_ dims: (Int, Int, Int)) {
        let (n, i, o) = dims
        gradCheck("linear", [rand([n, i], 251), rand([o, i], 252), rand([o], 253)]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        gradCheck("linear 3-D no bias", [rand([2, n, i], 254), rand([o, i], 255)]) { $0[0].linear(weight: $0[1], bias: nil) }
        let xs = [rand([2, n, i], 256), rand([o, i], 257), rand([o], 258)]
        let w = rand([2, n, o], 259)
        func run(_ fused: Bool) -> ([Float], [[Float]]) {
            let ins = xs.map { Tensor(shape: $0.shape, values: $0.toArray(), requiresGrad: true) }
            let y = fused ? ins[0].linear(weight: ins[1], bias: ins[2]) : ins[0].matmul(ins[1], transposeB: true) + ins[2]
            (y * w).sum().backward()
            return (y.toArray(), ins.map { $0.grad!.toArray() })
        }
        let a = run(true), b = run(false)
        #expect(Self.rel(a.0, b.0) < 1e-6)
        for k in 0..<3 { #expect(Self.rel(a.1[k], b.1[k]) < 1e-6, "gradient \(k): \(Self.rel(a.1[k], b.1[k]))") }
    }

    @Test("GELU (vectorised erf) and its derivative are within 2e-6 relative of double precision over ±12")
    func geluAccuracy() {
        let xs = (0..<4801).map { Float($0 - 2400) / 200 }
        let x = Tensor(shape: [xs.count], values: xs, requiresGrad: true)
        let y = x.gelu()
        y.sum().backward()
        var worst = 0.0, worstGrad = 0.0
        for (i, v) in xs.enumerated() {
            let d = Double(v)
            let cdf = 0.5 * erfc(-d / 2.0.squareRoot())
            let ref = d * cdf
            let dref = cdf + d * Foundation.exp(-0.5 * d * d) / (2 * Double.pi).squareRoot()
            // relative to the value, with an absolute floor near 0
            worst = max(worst, abs(Double(y.data[i]) - ref) / max(abs(ref), 1e-30 + 1e-7 * abs(d)))
            // relative to the larger of the two terms Φ and xφ (the sum cancels near x ≈ -0.75)
            let scale = max(abs(dref), cdf, abs(d) * Foundation.exp(-0.5 * d * d) / (2 * Double.pi).squareRoot())
            worstGrad = max(worstGrad, abs(Double(x.grad!.data[i]) - dref) / max(scale, 1e-30))
        }
        #expect(worst < 2e-6, "GELU worst relative error \(worst)")
        #expect(worstGrad < 2e-6, "GELU' worst relative error \(worstGrad)")
    }

    @Test("softmax (vectorised exp) matches double precision; -inf gives exact zeros; NaN propagates")
    func softmaxAccuracy() {
        var r = RNG(seed: 3)
        let x = Tensor.uniform([64, 77], low: -40, high: 40, rng: &r)
        let y = x.softmax()
        var worst = 0.0
        for i in 0..<64 {
            let row = (0..<77).map { Double(x.data[i * 77 + $0]) }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<77 { worst = max(worst, abs(Double(y.data[i * 77 + j]) - e[j] / s) / max(e[j] / s, 1e-30)) }
        }
        #expect(worst < 1e-5, "softmax worst relative error \(worst)")
        let z = Tensor(shape: [1, 10], values: [0, -.infinity, 1, 2, -.infinity, 3, 4, 5, 6, -100]).softmax().toArray()
        #expect(z[1] == 0 && z[4] == 0)
        #expect(Tensor(shape: [1, 9], values: [0, 1, 2, .nan, 4, 5, 6, 7, 8]).softmax().toArray().contains { $0.isNaN })
    }

    @Test("the storage pool hands a freed large buffer to the next allocation of that size")
    func poolReuse() {
        let before = StoragePool.counters
        do { _ = Tensor(uninitializedShape: [1 << 17 + 3]) }          // freed at once, kept idle
        let t = Tensor(uninitializedShape: [1 << 17 + 3])
        #expect(StoragePool.counters.reused > before.reused)
        t.fill(1)
        #expect(t.data[1 << 17 + 2] == 1)
        StoragePool.releaseCached()
        let u = Tensor(uninitializedShape: [1 << 17 + 3])
        u.fill(2)
        #expect(u.data[0] == 2)
    }
}

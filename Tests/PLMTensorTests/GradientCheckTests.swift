import Foundation
import PLMTensor
import Testing

/// Central-difference gradient checks: every differentiable op, random
/// shapes including odd sizes and size-1 dims.
@Suite("Gradient checks")
struct GradientCheckTests {
    @Test("unary ops", arguments: Array(oddShapes.enumerated()))
    func unary(_ c: (offset: Int, element: [Int])) {
        let s = c.element, seed = UInt64(c.offset * 100)
        gradCheck("exp", [rand(s, seed)]) { $0[0].exp() }
        gradCheck("log", [rand(s, seed + 1, low: 0.5, high: 3)]) { $0[0].log() }
        gradCheck("sqrt", [rand(s, seed + 2, low: 0.5, high: 3)]) { $0[0].sqrt() }
        gradCheck("pow", [rand(s, seed + 3, low: 0.5, high: 2)]) { $0[0].pow(2.5) }
        gradCheck("pow int", [rand(s, seed + 4)]) { $0[0].pow(3) }
        gradCheck("reciprocal", [rand(s, seed + 5, low: 0.5, high: 2)]) { $0[0].reciprocal() }
        gradCheck("abs", [randAvoiding(s, seed + 6, kinks: [0])]) { $0[0].abs() }
        gradCheck("relu", [randAvoiding(s, seed + 7, kinks: [0])]) { $0[0].relu() }
        gradCheck("gelu", [rand(s, seed + 8, low: -3, high: 3)]) { $0[0].gelu() }
        gradCheck("sigmoid", [rand(s, seed + 9, low: -4, high: 4)]) { $0[0].sigmoid() }
        gradCheck("tanh", [rand(s, seed + 10, low: -2, high: 2)]) { $0[0].tanh() }
        gradCheck("softplus", [randAvoiding(s, seed + 11, kinks: [1.5], low: -3, high: 3)]) {
            $0[0].softplus(beta: 2, threshold: 3)
        }
        gradCheck("clamp", [randAvoiding(s, seed + 12, kinks: [-0.5, 0.7])]) { $0[0].clamp(min: -0.5, max: 0.7) }
        gradCheck("neg+scalar ops", [rand(s, seed + 13, low: 0.5, high: 2)]) {
            ((-$0[0] + 2) * 3 - 1) / 2 + (1 / $0[0]) + (4 - $0[0])
        }
    }

    @Test("broadcast binary ops", arguments: [
        ([2, 3, 4], [4]), ([2, 3, 4], [3, 1]), ([1, 5], [4, 1]), ([3], [3]), ([2, 1, 3], [1, 4, 1]), ([5, 1], [])
    ])
    func binary(_ shapes: ([Int], [Int])) {
        let (sa, sb) = shapes
        gradCheck("add", [rand(sa, 1), rand(sb, 2)]) { $0[0] + $0[1] }
        gradCheck("sub", [rand(sa, 3), rand(sb, 4)]) { $0[0] - $0[1] }
        gradCheck("mul", [rand(sa, 5), rand(sb, 6)]) { $0[0] * $0[1] }
        gradCheck("div", [rand(sa, 7), rand(sb, 8, low: 0.5, high: 2)]) { $0[0] / $0[1] }
        gradCheck("div reversed", [rand(sb, 9), rand(sa, 10, low: 0.5, high: 2)]) { $0[0] / $0[1] }
    }

    @Test("reductions", arguments: [[2, 3, 5], [1, 4, 1], [3, 1, 7], [6]])
    func reductions(_ s: [Int]) {
        gradCheck("sum all", [rand(s, 11)]) { $0[0].sum() }
        gradCheck("mean all", [rand(s, 12)]) { $0[0].mean() }
        for axis in 0..<s.count {
            gradCheck("sum \(axis)", [rand(s, 13)]) { $0[0].sum(axis: axis) }
            gradCheck("sum keep \(axis)", [rand(s, 14)]) { $0[0].sum(axis: axis, keepDims: true) }
            gradCheck("mean \(axis)", [rand(s, 15)]) { $0[0].mean(axis: axis) }
            gradCheck("max \(axis)", [distinct(s, 16)]) { $0[0].max(axis: axis) }
        }
        if s.count == 3 {
            gradCheck("sum axes 0,2", [rand(s, 17)]) { $0[0].sum(axes: [0, 2]) }
            gradCheck("mean axes -1,0 keep", [rand(s, 18)]) { $0[0].mean(axes: [-1, 0], keepDims: true) }
        }
    }

    @Test("softmax, log-softmax, layer norm", arguments: [[1, 1], [3, 7], [2, 3, 5], [4, 1, 16]])
    func normalisations(_ s: [Int]) {
        gradCheck("softmax", [rand(s, 21, low: -3, high: 3)]) { $0[0].softmax() }
        gradCheck("logSoftmax", [rand(s, 22, low: -3, high: 3)]) { $0[0].logSoftmax() }
        let d = s.last!
        if d > 1 {
            gradCheck("layerNorm", [rand(s, 23, low: -2, high: 2), rand([d], 24, low: 0.5, high: 1.5), rand([d], 25)], eps: 1e-3) {
                $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5)
            }
            gradCheck("layerNorm no affine", [rand(s, 26, low: -2, high: 2)], eps: 1e-3) {
                $0[0].layerNorm(weight: nil, bias: nil)
            }
        }
        gradCheck("l2Normalized", [rand(s, 27)]) { $0[0].l2Normalized() }
    }

    @Test("matmul and batched matmul with transposes")
    func matmul() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let m = 3, k = 5, n = 4
            // Linear-layer form: [..., M, K] x [K, N]
            let a3 = rand(ta ? [2, k, m] : [2, m, k], 31)
            let w = rand(tb ? [n, k] : [k, n], 32)
            gradCheck("matmul lead ta=\(ta) tb=\(tb)", [a3, w]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
            // 2-D
            let a2 = rand(ta ? [k, 1] : [1, k], 33)
            gradCheck("matmul 2d ta=\(ta) tb=\(tb)", [a2, w]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
            // Batched [B, H, M, K] x [B, H, K, N]
            let ab = rand(ta ? [2, 3, k, m] : [2, 3, m, k], 34)
            let bb = rand(tb ? [2, 3, n, k] : [2, 3, k, n], 35)
            gradCheck("bmm ta=\(ta) tb=\(tb)", [ab, bb]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
        }
    }

    @Test("shape ops")
    func shapeOps() {
        gradCheck("reshape", [rand([2, 3, 4], 41)]) { $0[0].reshaped([4, -1]) * $0[0].reshaped([4, 6]) }
        gradCheck("permute", [rand([2, 3, 4], 42)]) { $0[0].permuted([2, 0, 1]) }
        gradCheck("transpose", [rand([1, 3, 5], 43)]) { $0[0].transposed(0, 2) }
        gradCheck("unsqueeze/squeeze", [rand([3, 1], 44)]) { $0[0].squeezed(1).unsqueezed(0) }
        gradCheck("slice", [rand([4, 7, 3], 45)]) { $0[0].slice(axis: 1, start: 1, end: -1, step: 2) }
        gradCheck("concat", [rand([2, 3], 46), rand([2, 1], 47), rand([2, 4], 48)]) { Tensor.concat($0, axis: 1) }
        gradCheck("concat axis 0", [rand([1, 3], 49), rand([2, 3], 50)]) { Tensor.concat($0, axis: 0) }
        gradCheck("split", [rand([5, 3], 51)]) { x in
            let p = x[0].split(sizes: [2, 3], axis: 0)
            return p[0].sum(axis: 0) * p[1].mean(axis: 0)
        }
        gradCheck("chunk", [rand([3, 7], 52)]) { x in
            let p = x[0].chunk(3, axis: 1)  // 3, 3, 1
            return Tensor.concat([p[2], p[0] * p[1]], axis: 1)
        }
        gradCheck("expand", [rand([3, 1], 53)]) { $0[0].expand(to: [2, 3, 4]) }
    }

    @Test("indexing ops")
    func indexing() {
        let ids = IndexTensor(shape: [2, 3], values: [0, 2, 1, 2, 2, 4] as [Int32])
        gradCheck("embedding", [rand([5, 4], 61)]) { $0[0].embedding(ids) }
        // padding_idx rows get no gradient by definition (not a derivative): check directly.
        let table = rand([5, 4], 62)
        table.requiresGrad = true
        table.embedding(ids, paddingIndex: 2).sum().backward()
        let g = table.grad!.toArray()
        #expect(Array(g[8..<12]) == [0, 0, 0, 0])           // row 2 (padding) is used 3 times, gets 0
        #expect(Array(g[0..<4]) == [1, 1, 1, 1] && Array(g[16..<20]) == [1, 1, 1, 1])
        let gidx = IndexTensor(shape: [3, 2], values: [1, 1, 0, 3, 2, 2] as [Int32])
        gradCheck("gather", [rand([3, 4], 63)]) { $0[0].gather(axis: 1, index: gidx) }
        let gidx0 = IndexTensor(shape: [2, 4], values: [0, 2, 1, 1, 2, 0, 0, 1] as [Int32])
        gradCheck("gather axis 0", [rand([3, 4], 64)]) { $0[0].gather(axis: 0, index: gidx0) }
        gradCheck("indexSelect", [rand([2, 5, 3], 65)]) { $0[0].indexSelect(axis: 1, indices: [4, 0, 0, 2]) }
        let mask = MaskTensor(shape: [3, 1], values: [true, false, true])
        gradCheck("maskedFill", [rand([3, 4], 66)]) { $0[0].maskedFill(mask, -7) }
        let cond = MaskTensor(shape: [2, 3], values: [true, false, false, true, true, false])
        gradCheck("where", [rand([2, 3], 67), rand([3], 68)]) { Tensor.where(cond, $0[0], $0[1]) }
    }

    @Test("losses")
    func losses() {
        let targets = IndexTensor(shape: [5], values: [2, -100, 0, 3, 3] as [Int32])
        gradCheck("crossEntropy mean", [rand([5, 4], 71, low: -2, high: 2)]) { $0[0].crossEntropy(targets: targets) }
        gradCheck("crossEntropy sum", [rand([5, 4], 72, low: -2, high: 2)]) { $0[0].crossEntropy(targets: targets, reduction: .sum) }
        gradCheck("crossEntropy none", [rand([5, 4], 73, low: -2, high: 2)]) { $0[0].crossEntropy(targets: targets, reduction: .none) }
        gradCheck("mse", [rand([3, 5], 74), rand([3, 5], 75)]) { $0[0].mseLoss($0[1]) }
        gradCheck("cosine", [rand([3, 6], 76), rand([3, 6], 77)]) { Tensor.cosineSimilarity($0[0], $0[1]) }
        gradCheck("cosine broadcast", [rand([3, 6], 78), rand([6], 79)]) { Tensor.cosineSimilarity($0[0], $0[1]) }
    }

    @Test("dropout (seeded mask is fixed, so the op is linear)")
    func dropout() {
        gradCheck("dropout", [rand([4, 9], 81)]) { x in
            var r = RNG(seed: 5)
            return x[0].dropout(0.3, rng: &r)
        }
    }

    @Test("rotary embedding and attention", arguments: [(1, 1, 1, 2), (2, 3, 5, 4), (1, 2, 7, 6)])
    func attention(_ dims: (Int, Int, Int, Int)) {
        let (b, h, t, dh) = dims
        let inv = (0..<(dh / 2)).map { 1 / Foundation.pow(10000, Float(2 * $0) / Float(dh)) }
        gradCheck("rotary", [rand([b, h, t, dh], 91)]) { $0[0].rotaryEmbedding(invFreq: inv) }
        var maskVals = [Bool](repeating: false, count: b * t)
        if t > 2 { maskVals[t - 1] = true; maskVals[t - 2] = true }  // pad the end of batch row 0
        let mask = MaskTensor(shape: [b, t], values: maskVals)
        gradCheck("attention probs", [rand([b, h, t, dh], 92), rand([b, h, t, dh], 93)]) {
            Tensor.attentionProbabilities(q: $0[0], k: $0[1], keyPaddingMask: mask, scale: 0.7)
        }
        gradCheck("sdpa", [rand([b, h, t, dh], 94), rand([b, h, t, dh], 95), rand([b, h, t, dh], 96)]) {
            Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], keyPaddingMask: mask).output
        }
        gradCheck("sdpa probabilities", [rand([b, h, t, dh], 97), rand([b, h, t, dh], 98), rand([b, h, t, dh], 99)]) {
            let r = Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], keyPaddingMask: mask, returnProbabilities: true)
            return r.output.sum() + r.probabilities!.pow(2).sum()
        }
    }
}

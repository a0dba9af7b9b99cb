import Foundation
import PLMTensor
import Testing

/// Forward values checked against hand-derived numbers.
@Suite("Forward values")
struct ForwardValueTests {
    func close(_ a: [Float], _ b: [Float], _ tol: Float = 1e-6) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { Swift.abs($0 - $1) <= tol * Swift.max(1, Swift.abs($1)) }
    }

    @Test func softmax() {
        let s = Tensor(shape: [1, 3], values: [1, 2, 3]).softmax().toArray()
        let e = [Foundation.exp(Float(1)), Foundation.exp(Float(2)), Foundation.exp(Float(3))]
        let z = e.reduce(0, +)
        #expect(close(s, e.map { $0 / z }))
        // Large inputs do not overflow (max subtraction).
        #expect(close(Tensor(shape: [2], values: [1000, 1000]).softmax().toArray(), [0.5, 0.5]))
    }

    @Test func geluValues() {
        // erf-form GELU: x·Φ(x). Φ(1) = 0.841344746, Φ(-1) = 0.158655254.
        let y = Tensor(shape: [3], values: [0, 1, -1]).gelu().toArray()
        #expect(close(y, [0, 0.841344746, -0.158655254]))
    }

    @Test func layerNormValues() {
        // x = [1, 2, 3, 4]: mean 2.5, var 1.25 → (x-2.5)/sqrt(1.25+1e-5)
        let y = Tensor(shape: [1, 4], values: [1, 2, 3, 4]).layerNorm(weight: nil, bias: nil, eps: 1e-5).toArray()
        let r = 1 / Float(1.25 + 1e-5).squareRoot()
        #expect(close(y, [-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r], 1e-5))
    }

    @Test func crossEntropyValue() {
        // Uniform logits over 4 classes: loss log(4) for every counted row.
        let logits = Tensor.zeros([3, 4])
        let loss = logits.crossEntropy(targets: IndexTensor(shape: [3], values: [1, -100, 3] as [Int32])).item()
        #expect(Swift.abs(loss - Foundation.log(Float(4))) < 1e-6)
        // All rows ignored: 0 (PyTorch gives NaN; documented).
        let none = logits.crossEntropy(targets: IndexTensor(shape: [3], values: [-100, -100, -100] as [Int32])).item()
        #expect(none == 0)
    }

    @Test func matmulValues() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], values: [7, 8, 9, 10, 11, 12])
        #expect(a.matmul(b).toArray() == [58, 64, 139, 154])
        #expect(a.matmul(a, transposeB: true).toArray() == [14, 32, 32, 77])
        #expect(a.matmul(a, transposeA: true).toArray() == [17, 22, 27, 22, 29, 36, 27, 36, 45])
        // Batched: two copies of the same product.
        let ab = Tensor.concat([a.unsqueezed(0), a.unsqueezed(0)], axis: 0)
        let bb = Tensor.concat([b.unsqueezed(0), b.unsqueezed(0)], axis: 0)
        #expect(ab.matmul(bb).toArray() == [58, 64, 139, 154, 58, 64, 139, 154])
    }

    @Test func shapeOpsValues() {
        let x = Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])
        #expect(x.transposed().toArray() == [0, 3, 1, 4, 2, 5])
        #expect(x.slice(axis: 1, start: 1).toArray() == [1, 2, 4, 5])
        #expect(x.slice(axis: 1, start: 0, step: 2).toArray() == [0, 2, 3, 5])
        #expect(Tensor.concat([x, x], axis: 0).shape == [4, 3])
        #expect(x.chunk(2, axis: 1).map(\.shape) == [[2, 2], [2, 1]])
        #expect(x.indexSelect(axis: 1, indices: [2, 0]).toArray() == [2, 0, 5, 3])
        #expect(x.gather(axis: 1, index: IndexTensor(shape: [2, 1], values: [2, 0] as [Int32])).toArray() == [2, 3])
        #expect(x.max(axis: 1).toArray() == [2, 5])
        #expect(x.sum(axis: 0).toArray() == [3, 5, 7])
        #expect(x.mean().item() == 2.5)
        let r = x.reshaped([3, 2])
        #expect(r.storage === x.storage)  // reshape is a view
    }

    @Test func embeddingAndMasks() {
        let table = Tensor(shape: [3, 2], values: [0, 1, 10, 11, 20, 21])
        #expect(table.embedding(IndexTensor(shape: [2], values: [2, 0] as [Int32])).toArray() == [20, 21, 0, 1])
        let m = MaskTensor(shape: [2], values: [true, false])
        #expect(table.reshaped([3, 2]).maskedFill(m, -1).toArray() == [-1, 1, -1, 11, -1, 21])
        let w = Tensor.where(MaskTensor(shape: [3, 1], values: [true, false, true]), table, Tensor(scalar: 5))
        #expect(w.toArray() == [0, 1, 5, 5, 20, 21])
    }

    @Test func dropoutStatisticsAndDeterminism() {
        var r1 = RNG(seed: 9), r2 = RNG(seed: 9)
        let x = Tensor.ones([100_000])
        let a = x.dropout(0.25, rng: &r1).toArray()
        let b = x.dropout(0.25, rng: &r2).toArray()
        #expect(a == b)
        let kept = a.filter { $0 != 0 }
        #expect(kept.allSatisfy { Swift.abs($0 - 4.0 / 3.0) < 1e-6 })
        let rate = Double(a.count - kept.count) / Double(a.count)
        #expect(Swift.abs(rate - 0.25) < 0.01)
        // Inference mode is the identity.
        #expect(x.dropout(0.25, rng: &r1, training: false) === x)
    }

    @Test func sdpaUniformWhenAllKeysMaskedAndMaskedKeysGetZero() {
        let q = Tensor.ones([1, 1, 2, 2]), k = Tensor.ones([1, 1, 3, 2])
        let p = Tensor.attentionProbabilities(q: q, k: k, keyPaddingMask: MaskTensor(shape: [1, 3], values: [false, false, true]), scale: 1)
        #expect(close(p.toArray(), [0.5, 0.5, 0, 0.5, 0.5, 0]))
        let all = Tensor.attentionProbabilities(q: q, k: k, keyPaddingMask: MaskTensor(shape: [1, 3], values: [true, true, true]), scale: 1)
        #expect(close(all.toArray(), [Float](repeating: 1.0 / 3, count: 6)))
    }
}

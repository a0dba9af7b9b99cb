import Foundation
import PLMTensor
import Testing

@Suite("RNG and threads", .serialized)
struct RNGAndThreadsTests {
    @Test("same seed, same numbers; stream continues from its offset")
    func determinism() {
        var a = RNG(seed: 42), b = RNG(seed: 42)
        let x = Tensor.normal([1000], rng: &a).toArray()
        let y = Tensor.normal([1000], rng: &b).toArray()
        #expect(x == y)
        #expect(a == b)
        var c = RNG(seed: 43)
        #expect(Tensor.normal([1000], rng: &c).toArray() != x)
        // Drawing 600 then 400 equals drawing 1000 (counter-based).
        var d = RNG(seed: 42), e = RNG(seed: 42)
        let whole = Tensor.uniform([1000], rng: &d).toArray()
        let part = Tensor.uniform([600], rng: &e).toArray() + Tensor.uniform([400], rng: &e).toArray()
        #expect(whole == part)
    }

    /// PLMKit's own kernels give the same bits for any thread count (work is
    /// split by rows/elements, never across a reduction). OpenBLAS's sgemm is
    /// not covered: its results can change with its thread count.
    @Test("random draws and non-GEMM kernels do not depend on the thread count")
    func threadIndependence() {
        let saved = Threads.count
        defer { Threads.configure(saved) }
        var outs: [[Float]] = []
        for n in [1, 2, 3] {
            Threads.configure(n)
            var r = RNG(seed: 7)
            let x = Tensor.normal([70_001], rng: &r)
            let w = Tensor.normal([64, 64], rng: &r)
            let y = (x.slice(axis: 0, start: 0, end: 64 * 64).reshaped([64, 64]) * w).gelu().softmax().layerNorm(weight: nil, bias: nil)
            outs.append(x.toArray() + y.toArray())
        }
        #expect(outs[0] == outs[1])
        #expect(outs[1] == outs[2])
    }

    @Test("normal and uniform moments")
    func moments() {
        var r = RNG(seed: 1)
        let n = Tensor.normal([200_000], mean: 2, std: 3, rng: &r).toArray()
        let mean = n.reduce(0.0) { $0 + Double($1) } / Double(n.count)
        let varc = n.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n.count)
        #expect(Swift.abs(mean - 2) < 0.03)
        #expect(Swift.abs(varc.squareRoot() - 3) < 0.03)
        let u = Tensor.uniform([200_000], low: -1, high: 1, rng: &r).toArray()
        #expect(u.allSatisfy { $0 >= -1 && $0 < 1 })
        #expect(Swift.abs(u.reduce(0.0) { $0 + Double($1) } / Double(u.count)) < 0.01)
    }

    @Test("OpenBLAS reports its core")
    func blasCore() {
        #expect(!Threads.blasCoreName.isEmpty)
        #expect(Threads.blasCoreName != "unknown")
    }
}

import Foundation
import PLMNN
import PLMTensor
import Testing

/// Optimizers and clipping against PyTorch (scripts/reference/optim/make_fixtures.py).
@Suite("Optimizers and schedules")
struct OptimTests {
    struct Fixture: Decodable {
        let p0: [Float]
        let grads: [[Float]]
        let adamw: [[Float]]
        let sgd: [[Float]]
        let sgd_nesterov: [[Float]]
        let clip_input: [String: [Float]]
        let clip_norm: ClipNorm
        struct ClipNorm: Decodable { let norm: Float; let a: [Float]; let b: [Float] }
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "Fixtures/optim", withExtension: "json")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func trajectory(_ make: ([NamedParameter]) -> Optimizer, lr: Float) -> [[Float]] {
        let f = Self.fixture
        let p = Parameter(Tensor(shape: [2, 3], values: f.p0), trainable: true)
        let opt = make([("w", p)])
        return f.grads.map { g in
            p.value.grad = Tensor(shape: [2, 3], values: g)
            opt.step(lr: lr)
            return p.value.toArray()
        }
    }

    func expectClose(_ a: [[Float]], _ b: [[Float]], _ name: String) {
        for (i, (x, y)) in zip(a, b).enumerated() {
            let d = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            #expect(d < 1e-6, "\(name) step \(i + 1): max |Δ| \(d)")
        }
    }

    @Test func adamwMatchesTorch() {
        expectClose(trajectory({ AdamW($0, betas: (0.9, 0.98), eps: 1e-8, weightDecay: 0.01) }, lr: 0.05), Self.fixture.adamw, "AdamW")
    }

    @Test func sgdMatchesTorch() {
        expectClose(trajectory({ SGD($0, momentum: 0.9, weightDecay: 5e-4) }, lr: 0.1), Self.fixture.sgd, "SGD")
        expectClose(trajectory({ SGD($0, momentum: 0.9, nesterov: true) }, lr: 0.1), Self.fixture.sgd_nesterov, "SGD nesterov")
    }

    @Test func clipNormMatchesTorch() {
        let f = Self.fixture
        let a = Parameter(Tensor.zeros([4]), trainable: true), b = Parameter(Tensor.zeros([3, 2]), trainable: true)
        a.value.grad = Tensor(shape: [4], values: f.clip_input["a"]!)
        b.value.grad = Tensor(shape: [3, 2], values: f.clip_input["b"]!)
        let n = GradientClipping.clipNorm([("a", a), ("b", b)], 1.0)
        #expect(abs(n - f.clip_norm.norm) < 1e-5)
        #expect(zip(a.value.grad!.toArray(), f.clip_norm.a).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(zip(b.value.grad!.toArray(), f.clip_norm.b).allSatisfy { abs($0 - $1) < 1e-6 })
        GradientClipping.clipValue([("b", b)], 0.1)
        #expect(b.value.grad!.toArray().allSatisfy { abs($0) <= 0.1 })
    }

    @Test func optimizerStateRoundTrip() throws {
        let p = Parameter(Tensor(shape: [3], values: [1, 2, 3]), trainable: true)
        let a = AdamW([("w", p)])
        p.value.grad = Tensor(shape: [3], values: [0.1, -0.2, 0.3])
        a.step(lr: 0.01)
        let b = AdamW([("w", p)])
        try b.loadState(a.stateTensors())
        #expect(b.stepCount == 1)
        p.value.grad = Tensor(shape: [3], values: [0.5, 0.5, 0.5])
        let before = p.value.copy()
        a.step(lr: 0.01)
        let afterA = p.value.toArray()
        p.value.data.update(from: before.data, count: 3)
        b.step(lr: 0.01)
        #expect(p.value.toArray() == afterA)
        #expect(throws: OptimizerStateError.self) { try AdamW([("other", p)]).loadState(a.stateTensors()) }
    }

    @Test("warmup_linear: SeqDance's shape, hand-derived values")
    func warmupLinear() {
        let s = WarmupLinearLR(base: 1e-4, warmupSteps: 2000, totalSteps: 200_000, decayTo: 0.1, decayEnd: 0.9)
        #expect(abs(s.lr(at: 0) - 1e-4 / 2000) < 1e-12)
        #expect(abs(s.lr(at: 999) - 0.5e-4) < 1e-10)
        #expect(abs(s.lr(at: 1999) - 1e-4) < 1e-10)
        // halfway through the decay (2000 → 180000): 1 - 0.5·0.9 = 0.55
        #expect(abs(s.lr(at: 91_000) - 0.55e-4) < 1e-9)
        #expect(abs(s.lr(at: 180_000) - 1e-5) < 1e-10)
        #expect(abs(s.lr(at: 199_999) - 1e-5) < 1e-10)
    }

    @Test("cosine_restarts: warmup, cosine to min, restart with gamma")
    func cosineRestarts() {
        let s = CosineRestartsLR(base: 1e-3, minLR: 1e-5, firstCycleSteps: 100, cycleMult: 1, warmupSteps: 10, gamma: 0.5)
        #expect(abs(s.lr(at: 0) - 1e-5) < 1e-9)
        #expect(abs(s.lr(at: 10) - 1e-3) < 1e-9)
        #expect(abs(s.lr(at: 55) - (1e-5 + (1e-3 - 1e-5) * 0.5)) < 1e-8)      // cosine midpoint
        #expect(abs(s.lr(at: 110) - 5e-4) < 1e-9)                             // second cycle peak, gamma 0.5
        #expect(s.lr(at: 99) < 2e-5)
    }
}

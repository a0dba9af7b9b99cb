import DynamicsRegression
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor
import Testing

/// Fixtures of scripts/reference/dynamics/make_fixtures.py.
enum DynamicsFixtures {
    static let dir = RepoFixtures.kit.appendingPathComponent("dynamics")
    static let store = dir.appendingPathComponent("parity_store.h5").path
    static let md = ["md_a", "md_b", "md_c"], nma = ["nma_a", "nma_b"]

    static func source(_ names: [String]? = nil) throws -> HDF5FeatureSource {
        try HDF5FeatureSource(HDF5FeatureSourceConfig(name: "parity", path: store, names: names))
    }

    static func batch(_ names: [String], group: String) throws -> Batch {
        let s = try source(names)
        return Batch(source: "parity", group: group, examples: try (0..<s.count).map { try s.example(at: $0) })
    }
}

/// Largest |a - b| over the largest |b|, and where it is.
func maxRelDiff(_ a: [Float], _ b: [Float]) -> (rel: Double, at: Int) {
    precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
    var d = 0.0, m = 0.0, at = 0
    for (i, (x, y)) in zip(a, b).enumerated() {
        let e = abs(Double(x) - Double(y))
        if e > d { d = e; at = i }
        m = max(m, abs(Double(y)))
    }
    return (d / max(m, 1e-30), at)
}

@Suite("Dynamics parity with PyTorch", .serialized)
struct DynamicsParityTests {
    let expected = try! SafeTensorsFile(url: DynamicsFixtures.dir.appendingPathComponent("expected.safetensors"))

    func model(_ impl: PairImplementation, chunk: Int = 1 << 22) throws -> (EsmEncoder, DynamicsTarget) {
        let m = try ModelSource.loadMaskedLM(RepoFixtures.tinyRotary.path)
        let enc = EsmEncoder(m)
        enc.module.train(false)
        let cfg = DynamicsRegressionConfig(pairImpl: impl, pairChunk: chunk)
        let target = try #require(try cfg.makeTarget(BuildContext(seed: 1, recipeDirectory: DynamicsFixtures.dir, maxLength: 1024), encoder: enc) as? DynamicsTarget)
        let weights = try SafeTensorsFile(url: DynamicsFixtures.dir.appendingPathComponent("heads.safetensors")).tensors(copy: true)
        #expect(Set(weights.keys) == Set(target.heads.stateDict().keys), "head names differ from SeqDance's")
        target.heads.load(weights)
        target.heads.train(false)
        return (enc, target)
    }

    /// Loss, per-feature losses and gradients of one batch against the fixture.
    func check(_ impl: PairImplementation, chunk: Int = 1 << 22, batch name: String, names: [String], group: String) throws {
        let (enc, target) = try model(impl, chunk: chunk)
        let b = try DynamicsFixtures.batch(names, group: group)
        #expect(b.tokens.values.map(Float.init) == (try expected.tensor("\(name).tokens").toArray()), "tokens differ")
        let ctx = ForwardContext()
        let out = enc.encode(b.tokens, request: target.request, context: ctx)
        let res = try target.loss(b, output: out, encoder: enc, context: ctx)
        let want = try expected.tensor("\(name).loss").item()
        let got = res.loss.item()
        let rel = abs(Double(got) - Double(want)) / abs(Double(want))
        print("dynamics parity [\(impl.rawValue), chunk \(chunk)] \(name): loss \(got) vs torch \(want), rel \(rel)")
        #expect(rel < 1e-5, "\(name) loss \(got) vs \(want)")
        let wantFeatures = try expected.tensor("\(name).feature_losses").toArray()
        for (f, w) in zip(SeqDanceSchema.featureNames, wantFeatures) {
            if w < 0 { #expect(res.metrics[f] == nil, "\(f) should be absent"); continue }
            let g = try #require(res.metrics[f], "metric \(f) missing")
            #expect(abs(g - Double(w)) <= 1e-5 * max(1, abs(Double(w))), "\(name) \(f): \(g) vs \(w)")
        }
        res.loss.backward()
        var params: [String: Parameter] = [:]
        for (n, p) in target.heads.namedParameters() { params[n] = p }
        for (n, p) in enc.module.namedParameters() { params[n] = p }
        var worst = 0.0
        for key in expected.names where key.hasPrefix("\(name).grad.") {
            let pname = String(key.dropFirst("\(name).grad.".count))
            let p = try #require(params[pname], "no parameter \(pname)")
            let grad = try #require(p.value.grad, "no gradient for \(pname)").toArray()
            let w = try expected.tensor(key).toArray()
            let (r, at) = maxRelDiff(grad, w)
            worst = max(worst, r)
            #expect(r < 1e-3, "\(name) grad \(pname): max rel diff \(r) at \(at): \(grad[at]) vs \(w[at])")
        }
        print("dynamics parity [\(impl.rawValue), chunk \(chunk)] \(name): worst gradient rel diff \(worst)")
    }

    @Test("MD batch (group md): loss, feature losses, gradients — fused pair branch")
    func mdFused() throws { try check(.fused, batch: "md", names: DynamicsFixtures.md, group: "md") }

    @Test("MD batch with small row blocks (several blocks per protein)")
    func mdFusedChunked() throws { try check(.fused, chunk: 700, batch: "md", names: DynamicsFixtures.md, group: "md") }

    @Test("MD batch — plain autograd pair branch")
    func mdAutograd() throws { try check(.autograd, batch: "md", names: DynamicsFixtures.md, group: "md") }

    @Test("NMA batch (group nma): fused and autograd")
    func nma() throws {
        try check(.fused, batch: "nma", names: DynamicsFixtures.nma, group: "nma")
        try check(.autograd, batch: "nma", names: DynamicsFixtures.nma, group: "nma")
    }

    @Test("the same MD batch under the idrome weight column, and group names mapped by SeqDance source")
    func idromeColumn() throws {
        let (enc, target) = try model(.fused)
        for (group, key) in [("idrome", "md.loss_idrome"), ("IDRome", "md.loss_idrome"), ("ATLAS", "md.loss")] {
            let b = try DynamicsFixtures.batch(DynamicsFixtures.md, group: group)
            let ctx = ForwardContext()
            let l = try withNoGrad { try target.loss(b, output: enc.encode(b.tokens, request: target.request, context: ctx), encoder: enc, context: ctx) }
            let want = try expected.tensor(key).item()
            #expect(abs(Double(l.loss.item()) - Double(want)) / Double(want) < 1e-5, "\(group): \(l.loss.item()) vs \(want)")
        }
    }
}

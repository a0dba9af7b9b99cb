import ContrastiveStructure
import Foundation
import PLMNN
import PLMTensor
import Testing

// Golden values: scripts/reference/contrastive/make_fixtures.py (PyTorch).
// Tolerances: loss and forward values 1e-5 relative (to the largest reference
// magnitude), gradients 1e-4. Each check prints the largest difference.

enum ContrastiveFixture {
    static let url = RepoFixtures.kit.appendingPathComponent("contrastive/contrastive.safetensors")
    nonisolated(unsafe) static let file = try! SafeTensorsFile(url: url)
    static func t(_ name: String) -> Tensor { try! file.tensor(name, copy: true) }
    static func a(_ name: String) -> [Float] { t(name).toArray() }
    /// Tensors under `prefix`, with the prefix stripped (for `Module.load`).
    static func weights(_ prefix: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in file.names where n.hasPrefix(prefix) { out[String(n.dropFirst(prefix.count))] = t(n) }
        return out
    }
}

/// Checks `actual` against `expected` to `tol` (max |a - e| / max |e|), reporting the worst entry.
/// `atol` accepts tensors that are zero up to rounding (max |a - e| <= atol): e.g. the gradients
/// of attention key biases and of a bias just before BatchNorm are exactly 0 analytically,
/// and both frameworks return rounding noise of ~1e-7 there.
func expectClose(_ actual: [Float], _ expected: [Float], _ tol: Double, _ what: String, atol: Double = 0,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    let r = maxRel(actual, expected)
    let absDiff = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
    print("parity \(what): max rel \(String(format: "%.2e", r)), max abs \(String(format: "%.2e", absDiff))")
    if !(r <= tol) && !(absDiff <= atol) {
        let i = zip(actual, expected).enumerated().max { abs($0.1.0 - $0.1.1) < abs($1.1.0 - $1.1.1) }!.offset
        Issue.record("\(what): max relative difference \(r) > \(tol); worst at \(i): \(actual[i]) vs \(expected[i])",
                     sourceLocation: sourceLocation)
    }
}

@Suite("Contrastive parity (PyTorch)")
struct ContrastiveParityTests {
    typealias F = ContrastiveFixture

    @Test("NT-Xent loss and gradients at tau 0.05 and 0.5; top-1 retrieval")
    func ntXent() throws {
        for (tag, tau) in [("t005", Float(0.05)), ("t05", Float(0.5))] {
            let a = F.t("ntxent.a"), b = F.t("ntxent.b")
            a.requiresGrad = true; b.requiresGrad = true
            let loss = NTXent.loss(a, b, temperature: tau)
            loss.backward()
            expectClose([loss.item()], F.a("ntxent.\(tag).loss"), 1e-5, "loss \(tag)")
            expectClose(try #require(a.grad).toArray(), F.a("ntxent.\(tag).grad_a"), 1e-4, "grad a \(tag)")
            expectClose(try #require(b.grad).toArray(), F.a("ntxent.\(tag).grad_b"), 1e-4, "grad b \(tag)")
        }
        #expect(abs(NTXent.top1(queries: F.t("ntxent.b"), keys: F.t("ntxent.a")) - Double(F.a("ntxent.top1_b_to_a")[0])) < 1e-6)
    }

    @Test("projectors (Linear -> BatchNorm1d -> ReLU -> Linear): train-mode loss, every gradient, running stats, eval mode")
    func projectors() throws {
        let ps = Projector(input: 7, hidden: 12, output: 8), pq = Projector(input: 10, hidden: 12, output: 8)
        ps.load(F.weights("proj.struct.w."))
        pq.load(F.weights("proj.seq.w."))
        let xs = F.t("proj.xs"), xq = F.t("proj.xq")
        xs.requiresGrad = true; xq.requiresGrad = true
        let zs = ps(xs), zq = pq(xq)
        let loss = NTXent.loss(zs, zq, temperature: 0.1)
        loss.backward()
        expectClose(zs.toArray(), F.a("proj.zs"), 1e-5, "structure projection")
        expectClose(zq.toArray(), F.a("proj.zq"), 1e-5, "sequence projection")
        expectClose([loss.item()], F.a("proj.loss"), 1e-5, "loss")
        expectClose(try #require(xs.grad).toArray(), F.a("proj.grad_xs"), 1e-4, "grad xs")
        expectClose(try #require(xq.grad).toArray(), F.a("proj.grad_xq"), 1e-4, "grad xq")
        for (tag, p) in [("struct", ps), ("seq", pq)] {
            for (name, param) in p.namedParameters() {
                expectClose(try #require(param.value.grad, "\(tag) \(name) has no gradient").toArray(),
                            F.a("proj.\(tag).grad.\(name)"), 1e-4, "grad \(tag).\(name)", atol: 1e-6)
            }
            expectClose(p.bn.runningMean.value.toArray(), F.a("proj.\(tag).after.bn.running_mean"), 1e-5, "\(tag) running mean")
            expectClose(p.bn.runningVar.value.toArray(), F.a("proj.\(tag).after.bn.running_var"), 1e-5, "\(tag) running var")
        }
        ps.train(false); pq.train(false)
        withNoGrad {
            expectClose(ps(xs).toArray(), F.a("proj.eval_zs"), 1e-5, "eval structure projection")
            expectClose(pq(xq).toArray(), F.a("proj.eval_zq"), 1e-5, "eval sequence projection")
        }
    }

    @Test("distance-map channels (d_c - clip(D, 0, d_c)) / d_c and zero-padded 4 x 4 patches")
    func distanceMap() {
        let ca = F.a("dmap.ca")
        let m = DistanceMapPatches.channels(ca: ca, thresholds: [8, 15, 22])
        expectClose(m, F.a("dmap.channels"), 1e-5, "channels")
        let g = DistanceMapPatches.grid(length: 13, patch: 4)
        #expect(g == 4 && DistanceMapPatches.grid(length: 13, patch: 4, multiple: 3) == 6)
        let out = Tensor.zeros([g * g, 3 * 16])
        DistanceMapPatches.writePatches(channels: m, length: 13, channelCount: 3, patch: 4, grid: g, into: out.data)
        expectClose(out.toArray(), F.a("dmap.patches"), 1e-5, "patches")
        let valid = DistanceMapPatches.validPatches(length: 13, patch: 4, grid: g)
        #expect(valid.filter { $0 }.count == 16)
        #expect(DistanceMapPatches.validPatches(length: 7, patch: 4, grid: 4).filter { $0 }.count == 4)
    }

    @Test("distance-map encoder forward and gradients: global + sinusoidal, windowed + learned", arguments: ["global", "window"])
    func encoder(variant: String) throws {
        let s = StructureEncoderSettings(thresholds: [10, 22], patchSize: 4, dim: 16, depth: 2, heads: 2, intermediate: 32,
                                         window: variant == "window" ? 2 : 0,
                                         positions: variant == "window" ? "learned" : "sinusoidal", maxGrid: 4)
        let enc = DistanceMapEncoder(s)
        let w = F.weights("enc_\(variant).w.")
        #expect(Set(w.keys) == Set(enc.namedParameters().map(\.name)), "fixture and module parameter names differ")
        enc.load(w)
        let y = enc.encode([F.a("enc.ca0"), F.a("enc.ca1")], context: ForwardContext())
        expectClose(y.toArray(), F.a("enc_\(variant).out"), 1e-5, "\(variant) embeddings")
        (y * F.t("enc.r")).sum().backward()
        for (name, p) in enc.namedParameters() {
            expectClose(try #require(p.value.grad, "\(name) has no gradient").toArray(), F.a("enc_\(variant).grad.\(name)"), 1e-4,
                        "\(variant) grad \(name)", atol: 1e-6)
        }
    }
}

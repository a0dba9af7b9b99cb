import Foundation
import PLMNN
import PLMTensor
import Testing

@Suite("LoRA and adapters")
struct TuningTests {
    func model() throws -> EsmForMaskedLM {
        let m = try EsmForMaskedLM.load(directory: try EsmParityTests.dir("tiny_rotary"))
        for (_, p) in m.namedParameters() { p.value = p.value.copy() }
        return m
    }

    func batch() throws -> (IndexTensor, IndexTensor) {
        let exp = try SafeTensorsFile(url: try EsmParityTests.dir("tiny_rotary").appendingPathComponent("expected.safetensors"))
        return (try EsmParityTests.tokens(exp, "mlm.input_ids"), try EsmParityTests.tokens(exp, "mlm.labels"))
    }

    static let targets = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]

    func attach(_ m: EsmForMaskedLM, rank: Int = 4, alpha: Float = 8) -> [String: LoRA] {
        var rng = RNG(seed: 1)
        var out: [String: LoRA] = [:]
        for (i, layer) in m.esm.layers.enumerated() {
            let mods = Dictionary(layer.namedModules().map { ($0.name, $0.module) }, uniquingKeysWith: { a, _ in a })
            for t in Self.targets { out["esm.encoder.layer.\(i).\(t)"] = (mods[t] as! Linear).attachLoRA(rank: rank, alpha: alpha, rng: &rng) }
        }
        return out
    }

    @Test("a fresh LoRA (B = 0) leaves the output exactly unchanged")
    func identityAtInit() throws {
        let m = try model()
        let (ids, _) = try batch()
        let before = withNoGrad { m.logits(ids) }.toArray()
        _ = attach(m)
        #expect(withNoGrad { m.logits(ids) }.toArray() == before)
    }

    @Test("loss, logits and every LoRA gradient match a hand-written PyTorch LoRA")
    func parity() throws {
        let m = try model()
        m.train(false)
        m.setTrainable(false)
        let loras = attach(m)
        let ref = try SafeTensorsFile(url: try EsmParityTests.dir("tiny_rotary").appendingPathComponent("lora_expected.safetensors"))
        for (name, l) in loras {
            l.a.weight.value = try ref.tensor("\(name).lora_A.weight", copy: true)
            l.b.weight.value = try ref.tensor("\(name).lora_B.weight", copy: true)
        }
        let (ids, labels) = try batch()
        let logits = m.logits(ids)
        #expect(EsmParityTests.rel(logits, try ref.tensor("logits")) < 1e-4)
        let loss = logits.reshaped([-1, 33]).crossEntropy(targets: IndexTensor(shape: [labels.count], values: labels.values))
        let refLoss = try ref.tensor("loss").item()
        #expect(abs(loss.item() - refLoss) < 1e-5 * abs(refLoss))
        loss.backward()
        for (name, l) in loras {
            for (suffix, p) in [("lora_A.weight", l.a.weight), ("lora_B.weight", l.b.weight)] {
                let g = try #require(p.value.grad, "no gradient for \(name).\(suffix)")
                let e = EsmParityTests.rel(g, try ref.tensor("grad.\(name).\(suffix)"))
                #expect(e < 1e-3, "\(name).\(suffix): rel \(e)")
            }
        }
        // The frozen base got no gradient and carries none.
        #expect(m.namedParameters().filter { !TuningManifest.isTuningParameter($0.name) }.allSatisfy { $0.parameter.value.grad == nil })
    }

    @Test("merge folds the update into W within 1e-5; unmerge restores W")
    func mergeUnmerge() throws {
        let m = try model()
        let loras = attach(m)
        var rng = RNG(seed: 9)
        for l in loras.values { rng.fillNormal(l.b.weight.value.data, l.b.weight.value.count, std: 0.1) }
        let (ids, _) = try batch()
        let w0 = m.esm.layers[0].selfAttention.query.weight.value.toArray()
        let unmerged = withNoGrad { m.logits(ids) }
        for l in loras.values { l.merge() }
        let merged = withNoGrad { m.logits(ids) }
        #expect(EsmParityTests.rel(merged, unmerged) < 1e-5)
        #expect(m.esm.layers[0].selfAttention.query.weight.value.toArray() != w0)
        for l in loras.values { l.unmerge() }
        let w1 = m.esm.layers[0].selfAttention.query.weight.value.toArray()
        #expect(relError(w1, w0) < 1e-5)
    }

    @Test("LoRA r=8 on q, k, v, out of t12_35M is under 5% of the base size")
    func adapterSize() throws {
        let m = EsmForMaskedLM(try EsmConfig.preset("t12_35M"))
        _ = attach(m, rank: 8, alpha: 16)
        let (base, tuning) = m.splitStateDict()
        let b = base.values.reduce(0) { $0 + $1.count }, t = tuning.values.reduce(0) { $0 + $1.count }
        #expect(t == 12 * 4 * (8 * 480 + 480 * 8))
        #expect(Double(t) / Double(b) < 0.05, "adapter share \(Double(t) / Double(b))")
    }

    @Test("save writes base + adapters; loading rebuilds them; a missing adapter tensor is an error")
    func checkpoints() throws {
        let m = try model()
        let loras = attach(m)
        var rng = RNG(seed: 4)
        for l in loras.values { rng.fillNormal(l.b.weight.value.data, l.b.weight.value.count, std: 0.1) }
        var srng = RNG(seed: 5)
        m.esm.layers[1].addAdapters("ss", bottleneck: 8, mode: .serial, rng: &srng)
        rng.fillNormal(m.esm.layers[1].adapters.output[0].adapter.up.weight.value.data, 64 * 8, std: 0.1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try m.save(to: dir)
        for f in ["model.safetensors", "adapters.safetensors", "tuning.json", "config.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "missing \(f)")
        }
        // model.safetensors is plain HF: no tuning tensors in it.
        #expect(try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")).names.allSatisfy { !TuningManifest.isTuningParameter($0) })
        let (ids, _) = try batch()
        let m2 = try EsmForMaskedLM.load(directory: dir)
        #expect(m2.tuningManifest() == m.tuningManifest())
        #expect(withNoGrad { m2.logits(ids) }.toArray() == withNoGrad { m.logits(ids) }.toArray())
        // Strict: drop one adapter tensor.
        var t = try SafeTensorsFile(url: dir.appendingPathComponent("adapters.safetensors")).tensors(copy: true)
        t["esm.encoder.layer.0.attention.self.key.lora_B.weight"] = nil
        try SafeTensors.write(t, to: dir.appendingPathComponent("adapters.safetensors"))
        #expect(throws: ParameterMismatchError.self) { try EsmForMaskedLM.load(directory: dir) }
    }

    @Test("adapters: identity at init (serial and parallel); gradients reach only them when the base is frozen")
    func adapters() throws {
        let m = try model()
        let (ids, labels) = try batch()
        let before = withNoGrad { m.logits(ids) }.toArray()
        var rng = RNG(seed: 3)
        m.setTrainable(false)
        for l in m.esm.layers { l.addAdapters("a", bottleneck: 16, mode: .serial, rng: &rng); l.addAdapters("p", bottleneck: 16, mode: .parallel, rng: &rng) }
        #expect(relError(withNoGrad { m.logits(ids) }.toArray(), before) < 1e-6)
        m.logits(ids).reshaped([-1, 33]).crossEntropy(targets: IndexTensor(shape: [labels.count], values: labels.values)).backward()
        let trainable = m.namedParameters().filter { $0.parameter.value.grad != nil }.map(\.name)
        #expect(!trainable.isEmpty && trainable.allSatisfy { $0.contains(".adapters.") })
        #expect(m.esm.layers[0].adapterNames == ["a", "p"])
    }
}

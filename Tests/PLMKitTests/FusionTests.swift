import ContrastiveStructure
import Foundation
import GraphFusion
import PLMData
import PLMKit
import PLMNN
import PLMStructure
import PLMTensor
import Testing

/// Graph layers, the fusion encoder and the 3DProtLM recipes (Plugins/GraphFusion).
@Suite("Structure fusion", .serialized)
struct FusionTests {
    static let tinyESM = RepoFixtures.root.appendingPathComponent("examples/seqdance/tiny-esm")
    static let structures = RepoFixtures.root.appendingPathComponent("examples/splm/structures")

    /// Real examples (sequence + CA) from the bundled structures, cropped to `length` residues.
    static func examples(_ names: [String], length: Int = 40) throws -> [Example] {
        try names.map { n in
            let e = try StructureSourceConfig.examples(file: structures.appendingPathComponent(n), chain: nil)[0]
            return e.cropped(start: 0, length: length)
        }
    }

    /// Central differences in Double on every entry of `x` (at most `probes`);
    /// returns max|analytic - numeric| / max(max|numeric|, 1).
    static func gradError(_ x: Tensor, probes: Int = 80, eps: Float = 1e-2, _ f: () -> Tensor) -> Double {
        x.grad = nil
        let out = f()
        var rng = RNG(seed: 5)
        let w = Tensor.normal(out.shape, rng: &rng)
        (out * w).sum().backward()
        let g = x.grad!.toArray(), wv = w.toArray()
        func loss() -> Double { zip(withNoGrad { f() }.toArray(), wv).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        var maxDiff = 0.0, maxNum = 0.0
        for k in 0..<min(x.count, probes) {
            let i = x.count <= probes ? k : (k * 7919) % x.count
            let o = x.data[i]
            x.data[i] = o + eps; let lp = loss()
            x.data[i] = o - eps; let lm = loss()
            x.data[i] = o
            let num = (lp - lm) / Double(2 * eps)
            maxNum = max(maxNum, abs(num)); maxDiff = max(maxDiff, abs(num - Double(g[i])))
        }
        return maxDiff / max(maxNum, 1)
    }

    @Test("packed graph: per-example offsets, token relation, edge mask")
    func packedGraph() throws {
        var ex = try Self.examples(["1UBI.pdb", "1QYS.pdb"], length: 30)
        let plain = try PackedGraph.build(ex, settings: GraphSettings(), structureToken: false)
        #expect(plain.nodeCount == 60 && plain.relationCount == 7)
        let g0 = ResidueGraph.build(ca: try ContrastiveStructureTarget.caCoordinates(ex[0]))
        let g1 = ResidueGraph.build(ca: try ContrastiveStructureTarget.caCoordinates(ex[1]))
        #expect(plain.src.count == g0.edgeCount + g1.edgeCount)
        #expect(Array(plain.src.prefix(g0.edgeCount)) == g0.src && Array(plain.src.suffix(g1.edgeCount)) == g1.src.map { $0 + 30 })
        let tok = try PackedGraph.build(ex, settings: GraphSettings(), structureToken: true)
        #expect(tok.nodeCount == 62 && tok.relationCount == 8 && tok.tokenNode == [30, 61])
        #expect(tok.relation.filter { $0 == 7 }.count == 2 * 60)
        #expect(tok.nodeTypes[30] == Alphabet.esm.unkIndex)
        ex[0].extras[PackedGraph.edgeMaskKey] = [0.15, 12345]
        let masked = try PackedGraph.build(ex, settings: GraphSettings(), structureToken: false)
        #expect(masked.src.count == plain.src.count - Int(0.15 * Float(g0.edgeCount)))
        #expect(try PackedGraph.build(ex, settings: GraphSettings(), structureToken: false).src == masked.src)  // seeded
    }

    @Test("gather/scatter message passing and the relational graph layer pass gradient checks")
    func graphLayerGradients() throws {
        let ex = try Self.examples(["1UBI.pdb"], length: 16)
        let g = try PackedGraph.build(ex, settings: GraphSettings(), structureToken: true)
        let conv = RelationalGraphConv(dim: 4, relations: 8)
        var rng = RNG(seed: 3)
        for (_, p) in conv.namedParameters() where p.value.rank == 2 { Init.normal(p, std: 0.3, rng: &rng) }
        let h = Tensor.normal([g.nodeCount, 4], rng: &rng)
        h.requiresGrad = true
        let eh = Self.gradError(h) { conv(h, graph: g) }
        let w = conv.linear.weight.value
        let ew = Self.gradError(w) { conv(h, graph: g) }
        let es = Self.gradError(conv.selfLoop.weight.value) { conv(h, graph: g) }
        print("graph layer gradient check: rel error input \(eh), relation weights \(ew), self-loop \(es)")
        #expect(eh < 1e-2 && ew < 1e-2 && es < 1e-2)
        let eg = Self.gradError(h) { h.gatherRows(g.src) }
        let msg = Tensor.normal([g.src.count, 4], rng: &rng)
        msg.requiresGrad = true
        let esc = Self.gradError(msg) { msg.scatterAddRows(g.aggregateIndex, rows: g.nodeCount * 8) }
        print("op gradient check: rel error gatherRows \(eg), scatterAddRows \(esc)")
        #expect(eg < 1e-3 && esc < 1e-3)
        // Messages: agg[i, r] = Σ_{j→i in r} h_j, checked against a loop.
        let agg = h.gatherRows(g.src).scatterAddRows(g.aggregateIndex, rows: g.nodeCount * 8).toArray()
        var ref = [Float](repeating: 0, count: g.nodeCount * 8 * 4)
        let hv = h.toArray()
        for e in g.src.indices { for c in 0..<4 { ref[(Int(g.dst[e]) * 8 + Int(g.relation[e])) * 4 + c] += hv[Int(g.src[e]) * 4 + c] } }
        #expect(maxRel(agg, ref) < 1e-6)
    }

    func fusionConfig(_ yaml: String) throws -> FusionEncoderConfig {
        let recipe = """
        model:
          encoder: {kind: fusion, sequence: {weights: \(Self.tinyESM.path)}, \(yaml)}
        targets: [{kind: multiview_contrast}]
        data: {sources: [{name: s, kind: structures, path: \(Self.structures.path)}]}
        optimizer: {kind: adamw, lr: 0.001}
        training: {steps: 1, batch_size: 2}
        """
        let (r, _) = try RecipeLoader.load(path: try writeRecipe(recipe), registry: testRegistry())
        return try #require(r.model.encoder.config as? FusionEncoderConfig)
    }

    @Test("graph branch off: the fusion encoder's output is exactly ESM-2's")
    func disabledEqualsESM() throws {
        let cfg = try fusionConfig("graph: false")
        let enc = try #require(try cfg.makeEncoder(BuildContext(seed: 1, recipeDirectory: Self.structures, maxLength: 512)) as? FusionEncoder)
        #expect(enc.branch == nil && enc.hiddenSize == 64)
        let plain = try EsmForMaskedLM.load(directory: Self.tinyESM)
        let ex = try Self.examples(["1UBI.pdb", "6MRR.pdb", "1QYS.pdb"], length: 40) + Self.examples(["1vii_3frames.pdb"], length: 40)
        let batch = Batch(source: "s", group: "s", examples: ex)
        let out = try enc.encode(batch: batch, request: EncoderRequest(hiddenStates: true, attentions: true), context: ForwardContext())
        let ref = plain.esm(batch.tokens, hiddenStates: true, attentions: true)
        #expect(out.lastHiddenState.shape == ref.lastHiddenState.shape)
        #expect(out.lastHiddenState.toArray() == ref.lastHiddenState.toArray())
        #expect(out.hiddenStates.count == ref.hiddenStates.count)
        for (a, b) in zip(out.hiddenStates, ref.hiddenStates) { #expect(a.toArray() == b.toArray()) }
        for (a, b) in zip(out.attentions, ref.attentions) { #expect(a.toArray() == b.toArray()) }
        #expect(enc.lmLogits(out.lastHiddenState)!.toArray() == plain.logits(batch.tokens).toArray())
    }

    @Test("graph branch on: ESM ‖ graph features, structure-dependent, gradients reach token and graph")
    func enabledFusion() throws {
        let cfg = try fusionConfig("graph_dim: 8, inject_every: 1")
        let enc = try #require(try cfg.makeEncoder(BuildContext(seed: 1, recipeDirectory: Self.structures, maxLength: 512)) as? FusionEncoder)
        let br = try #require(enc.branch)
        #expect(br.graph.layers.count == 2 && enc.hiddenSize == 64 + 16)
        var ex = try Self.examples(["1UBI.pdb", "6MRR.pdb"], length: 40) + Self.examples(["1vii_3frames.pdb"], length: 30)
        let batch = Batch(source: "s", group: "s", examples: ex)
        enc.module.train(true)
        let out = try enc.encode(batch: batch, request: EncoderRequest(), context: ForwardContext())
        #expect(out.lastHiddenState.shape == [3, 42, 80])
        // Graph columns are zero off residues (BOS, EOS, padding).
        let v = out.lastHiddenState.toArray()
        let third = ex[2].tokens.count   // 32 tokens: rows 31 (EOS) ... 41 (pad)
        for j in [0, third - 1, 41] { #expect((64..<80).allSatisfy { v[(2 * 42 + j) * 80 + $0] == 0 }) }
        #expect((64..<80).contains { v[(2 * 42 + 1) * 80 + $0] != 0 })
        let pf = enc.proteinFeatures(out, tokens: batch.tokens)
        #expect(pf.shape == [3, 80])
        pf.sum().backward()
        #expect(br.structureToken.value.grad.map { $0.toArray().contains { $0 != 0 } } == true)
        #expect(br.toGraph[0].weight.value.grad != nil && br.toSequence[0].weight.value.grad != nil)
        // Moving one protein's atoms changes its ESM features (through the token), not the others'.
        enc.module.train(false)
        let before = try enc.encode(batch: batch, request: EncoderRequest(), context: ForwardContext()).lastHiddenState.toArray()
        var ca = ex[0].features["ca"]!
        for i in 3..<(ca.values.count - 3) { ca.values[i] *= 1.3 }
        ex[0].features["ca"] = ca
        let after = try enc.encode(batch: Batch(source: "s", group: "s", examples: ex), request: EncoderRequest(), context: ForwardContext()).lastHiddenState.toArray()
        let row = 42 * 80
        #expect(zip(before[0..<row], after[0..<row]).contains { $0 != $1 })
        #expect(Array(before[row...]) == Array(after[row...]))
    }

    // MARK: recipes

    func train(_ name: String, _ overrides: [String]) throws -> ([Double], URL) {
        let path = RepoFixtures.root.appendingPathComponent("recipes/\(name)").path
        let (r, _) = try RecipeLoader.load(path: path, overrides: overrides, registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("fusion-\(name)"))
        let t = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in })
        _ = try t.run()
        let losses = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == "train" }.compactMap { $0["loss"] as? Double }
        return (losses, run)
    }

    @Test("recipes load as written; bad keys are recipe errors with a key path")
    func recipesLoad() throws {
        let p = RepoFixtures.root.appendingPathComponent("recipes/3dprotlm.yaml").path
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let e = try #require(r.model.encoder.config as? FusionEncoderConfig)
        #expect(e.graphBranch && e.injectEvery == 1 && e.graph == GraphSettings())
        let t = try #require(r.targets[0].config as? MultiviewContrastConfig)
        #expect(t.cropLength == 50 && t.edgeMask == 0.15 && t.temperature == 0.07)
        for (o, key) in [("model.encoder.inject_every=0", "model.encoder.inject_every"), ("model.encoder.sequence.layerz=2", "model.encoder.sequence.layerz"),
                         ("targets.0.edge_mask=1.5", "targets.0.edge_mask"), ("model.encoder.knn=-1", "model.encoder.knn")] {
            do {
                _ = try RecipeLoader.load(path: p, overrides: [o], registry: testRegistry())
                Issue.record("\(o) was accepted")
            } catch let e as RecipeError {
                #expect(e.keyPath == key, "\(e)")
            }
        }
        let d = RepoFixtures.root.appendingPathComponent("recipes/tune-fusion-multilabel.yaml").path
        _ = try RecipeLoader.load(path: d, registry: testRegistry())
    }

    @Test("3dprotlm.yaml pre-trains on the bundled structures: loss falls")
    func pretrain() throws {
        let (loss, run) = try train("3dprotlm.yaml", ["model.encoder.graph_dim=16", "targets.0.hidden=64", "targets.0.output=32",
                                                      "data.max_length=64", "training.steps=12", "training.batch_size=4",
                                                      "training.log_every=1", "training.checkpoint_every=1000"])
        defer { try? FileManager.default.removeItem(at: run) }
        print("3dprotlm loss: \(loss.first ?? .nan) -> \(loss.last ?? .nan): \(loss)")
        #expect(loss.count == 12 && loss.allSatisfy(\.isFinite))
        let early = loss.prefix(3).reduce(0, +) / 3, late = loss.suffix(3).reduce(0, +) / 3
        #expect(late < early, "\(loss)")
        let ck = run.appendingPathComponent("checkpoint-12")
        #expect(FileManager.default.fileExists(atPath: ck.appendingPathComponent("fusion.safetensors").path))
        #expect(FileManager.default.fileExists(atPath: ck.appendingPathComponent("model.safetensors").path))

        // Embedding through the run (plm embed --structures): protein = mean ESM ‖ summed graph
        // features of the residues written beside it, and independent of the batch (padding).
        let evaluator = try Trainer.evaluating(runDirectory: run, registry: testRegistry(), log: { _ in })
        try evaluator.loadCheckpointModel(ck)
        var outputs: [[String: (protein: [Float], residues: HDF5Array<Float>)]] = []
        for bs in [1, 4] {
            let out = RepoFixtures.temp("fusion-embed-\(bs).h5")
            defer { try? FileManager.default.removeItem(atPath: out) }
            let s = try evaluator.embed(to: out, perResidue: true, batchSize: bs)
            // tiny-esm: d = 64 and 2 layers, inject_every 1 -> 2 graph layers of graph_dim 16.
            #expect(s.written == 11 && s.proteinFeatureSize == 64 + 2 * 16, "\(s)")
            let f = try HDF5File.open(out)
            var got: [String: (protein: [Float], residues: HDF5Array<Float>)] = [:]
            for name in try f.childNames() {
                let g = try f.group(name)
                got[name] = (try g.read("protein", as: Float.self).values, try g.read("per_residue", as: Float.self))
            }
            outputs.append(got)
        }
        let d = 64   // tiny-esm hidden size
        #expect(outputs[0].count == 11 && Set(outputs[0].keys) == Set(outputs[1].keys))
        for (name, a) in outputs[0] {
            let b = try #require(outputs[1][name])
            let l = a.residues.shape[0], w = a.residues.shape[1]
            #expect(a.protein.count == w && w == d + 32, "\(name): protein \(a.protein.count), residues \(a.residues.shape)")
            for c in 0..<w {
                var acc = 0.0
                for r in 0..<l { acc += Double(a.residues.values[r * w + c]) }
                let want = c < d ? acc / Double(l) : acc
                #expect(abs(Double(a.protein[c]) - want) <= 1e-4 * max(1, abs(want)), "\(name) column \(c): \(a.protein[c]) vs \(want)")
            }
            let diff = zip(a.protein, b.protein).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
            #expect(diff < 1e-4, "\(name): batch 1 vs 4 differ by \(diff)")
        }

        // The downstream recipe starts from this pre-trained fusion encoder (`weights:`): ESM and
        // graph branch exactly as saved; a different graph_dim or a plain ESM directory is refused.
        let tune = RepoFixtures.root.appendingPathComponent("recipes/tune-fusion-multilabel.yaml").path
        func downstream(_ encoder: String) throws -> Trainer {
            let (r, _) = try RecipeLoader.load(path: tune, overrides: ["model.encoder=\(encoder)", "data.max_length=64"], registry: testRegistry())
            return try Trainer(recipe: r, runDirectory: URL(fileURLWithPath: RepoFixtures.temp("fusion-from-pretrained")), resume: false,
                               showProgress: false, log: { _ in })
        }
        let t = try downstream("{kind: fusion, weights: \(ck.path), graph_dim: 16, inject_every: 1}")
        let fused = try #require(t.encoder as? FusionEncoder)
        let saved = try SafeTensorsFile(url: ck.appendingPathComponent("fusion.safetensors")).tensors(copy: true)
        let branch = try #require(fused.branch).stateDict()
        #expect(!saved.isEmpty && Set(saved.keys) == Set(branch.keys))
        for (k, v) in saved { #expect(branch[k]?.toArray() == v.toArray(), "\(k) not loaded") }
        let esm = try SafeTensorsFile(url: ck.appendingPathComponent("model.safetensors")).tensors(copy: true)
        let lm = fused.lm.stateDict()
        let shared = esm.keys.filter { lm[$0] != nil }
        #expect(shared.count > 10 && shared.allSatisfy { lm[$0]!.toArray() == esm[$0]!.toArray() })
        do { _ = try downstream("{kind: fusion, weights: \(ck.path), graph_dim: 8, inject_every: 1}"); Issue.record("graph_dim 8 accepted") }
        catch { #expect("\(error)".contains("graph_dim 8 and inject_every 1 must match"), "\(error)") }
        let plain = RepoFixtures.root.appendingPathComponent("examples/seqdance/tiny-esm").path
        do { _ = try downstream("{kind: fusion, weights: \(plain), graph_dim: 16, inject_every: 1}"); Issue.record("a plain ESM directory accepted") }
        catch { #expect("\(error)".contains("not a fusion checkpoint"), "\(error)") }
    }

    @Test("tune-fusion-multilabel.yaml: multi-label BCE on structures falls")
    func downstream() throws {
        let (loss, run) = try train("tune-fusion-multilabel.yaml", ["data.max_length=64", "training.steps=16", "training.log_every=1",
                                                                    "training.checkpoint_every=1000"])
        defer { try? FileManager.default.removeItem(at: run) }
        print("tune-fusion-multilabel loss: \(loss.first ?? .nan) -> \(loss.last ?? .nan): \(loss)")
        let early = loss.prefix(4).reduce(0, +) / 4, late = loss.suffix(4).reduce(0, +) / 4
        #expect(late < early, "\(loss)")
    }

    @Test("multi-label on held-out structures: whole-set Fmax, AUROC and the label-frequency baseline are evaluated")
    func multilabelValidation() throws {
        let (_, run) = try train("tune-fusion-multilabel.yaml", ["data.max_length=64", "training.steps=8", "training.log_every=4",
                                                                 "training.eval_every=4", "data.sources.0.validation_fraction=0.4",
                                                                 "training.checkpoint_every=1000"])
        defer { try? FileManager.default.removeItem(at: run) }
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == "validation" }
        #expect(lines.count == 2)
        let v = try #require(lines.last)
        for k in ["classification/fmax", "classification/auroc", "classification/baseline_fmax"] {
            let x = try #require(v[k] as? Double, "validation lacks \(k): \(v)")
            #expect(x >= 0 && x <= 1, "\(k) = \(x)")
        }
        // Fmax is a maximum over thresholds of an F1: at least the F1 of predicting every label (> 0 with any positive).
        #expect((v["classification/fmax"] as? Double ?? 0) > 0)
    }

    @Test("lora on the fusion encoder: the ESM base stays frozen, LoRA and the graph branch train, N + resume + N equals 2N")
    func loraFusion() throws {
        let sets = ["model.tuning={kind: lora, rank: 4, alpha: 8}", "data.max_length=64", "training.steps=4", "training.log_every=1",
                    "training.checkpoint_every=2"]
        let (loss, run) = try train("tune-fusion-multilabel.yaml", sets)
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(loss.count == 4 && loss.allSatisfy(\.isFinite))
        let ck = run.appendingPathComponent("checkpoint-4")
        // The ESM base weights are tiny-esm's, unchanged.
        let base = try SafeTensorsFile(url: Self.tinyESM.appendingPathComponent("model.safetensors")).tensors(copy: true)
        let saved = try SafeTensorsFile(url: ck.appendingPathComponent("model.safetensors")).tensors(copy: true)
        var compared = 0
        for (k, v) in saved { if let b = base[k] { #expect(v.toArray() == b.toArray(), "\(k) changed"); compared += 1 } }
        #expect(compared > 10)
        // LoRA B left zero, and the graph branch moved between checkpoints 2 and 4.
        let adapters = try SafeTensorsFile(url: ck.appendingPathComponent("adapters.safetensors")).tensors(copy: true)
        #expect(adapters.contains { $0.key.contains("lora_B") && $0.value.toArray().contains { $0 != 0 } })
        let g2 = try SafeTensorsFile(url: run.appendingPathComponent("checkpoint-2/fusion.safetensors")).tensors(copy: true)
        let g4 = try SafeTensorsFile(url: ck.appendingPathComponent("fusion.safetensors")).tensors(copy: true)
        #expect(g4.contains { k, v in g2[k].map { $0.toArray() != v.toArray() } ?? false }, "the graph branch did not train")
        // Stop at 2, resume to 4: the same adapters and graph branch, bit for bit.
        let path = RepoFixtures.root.appendingPathComponent("recipes/tune-fusion-multilabel.yaml").path
        let (r, _) = try RecipeLoader.load(path: path, overrides: sets, registry: testRegistry())
        let run2 = URL(fileURLWithPath: RepoFixtures.temp("fusion-lora-resume"))
        defer { try? FileManager.default.removeItem(at: run2) }
        _ = try Trainer(recipe: r, runDirectory: run2, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 2)
        _ = try Trainer(recipe: r, runDirectory: run2, resume: true, showProgress: false, log: { _ in }).run()
        for file in ["adapters.safetensors", "fusion.safetensors"] {
            let a = try SafeTensorsFile(url: ck.appendingPathComponent(file)).tensors(copy: true)
            let b = try SafeTensorsFile(url: run2.appendingPathComponent("checkpoint-4/\(file)")).tensors(copy: true)
            #expect(Set(a.keys) == Set(b.keys))
            for (k, v) in a { #expect(b[k]?.toArray() == v.toArray(), "\(file) \(k) differs after resume") }
        }
    }

    @Test("residue_graph encoder alone: multiview pre-training runs, checkpoint round-trips")
    func residueGraphEncoder() throws {
        let (loss, run) = try train("3dprotlm.yaml", ["model.encoder={kind: residue_graph, layers: 2, dim: 16}", "targets.0.hidden=32",
                                                      "targets.0.output=16", "data.max_length=64", "training.steps=4", "training.batch_size=4",
                                                      "training.log_every=1", "training.checkpoint_every=1000"])
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(loss.count == 4 && loss.allSatisfy(\.isFinite))
        let p = RepoFixtures.root.appendingPathComponent("recipes/3dprotlm.yaml").path
        let (r, _) = try RecipeLoader.load(path: p, overrides: ["model.encoder={kind: residue_graph, layers: 2, dim: 16}"], registry: testRegistry())
        let cfg = try #require(r.model.encoder.config as? ResidueGraphEncoderConfig)
        let enc = try #require(try cfg.makeEncoder(BuildContext(seed: 99, recipeDirectory: run, maxLength: 64)) as? ResidueGraphEncoder)
        let ex = try Self.examples(["1UBI.pdb", "6MRR.pdb"], length: 30)
        let batch = Batch(source: "s", group: "s", examples: ex)
        enc.module.train(false)
        let before = try enc.encode(batch: batch, request: EncoderRequest(), context: ForwardContext()).lastHiddenState.toArray()
        try enc.load(from: run.appendingPathComponent("checkpoint-4"))
        let after = try enc.encode(batch: batch, request: EncoderRequest(), context: ForwardContext())
        #expect(after.lastHiddenState.shape == [2, 32, 32] && after.lastHiddenState.toArray() != before)
        #expect(enc.proteinFeatures(after, tokens: batch.tokens).shape == [2, 32])
    }
}

import DynamicsRegression
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor
import Testing

@Suite("Dynamics data source and target")
struct DynamicsDataTests {
    func raw(_ name: String) throws -> SeqDanceRecord {
        try SeqDanceFeatureStore(path: DynamicsFixtures.store).read(name)
    }

    @Test("tokens from the stored sequence (linkers kept), features in token space with -1 borders")
    func tokensAndMasks() throws {
        let s = try DynamicsFixtures.source(["md_b", "md_a"])
        #expect(s.count == 2)
        let b = try s.example(at: 0)   // GSHMKL<eos><cls>AVLEEK: L = 14, linker at tokens 7, 8
        #expect(b.id == "md_b")
        let a = Alphabet.esm
        #expect(b.tokens.count == 16 && b.tokens[0] == a.clsIndex && b.tokens[15] == a.eosIndex)
        #expect(b.tokens[7] == a.eosIndex && b.tokens[8] == a.clsIndex)
        let res = try #require(b.features[DynamicsFeatureKeys.residue]), pair = try #require(b.features[DynamicsFeatureKeys.pair])
        #expect(res.shape == [16, 47] && pair.shape == [16, 16, 10])
        for row in [0, 7, 8, 15] {
            #expect(res.values[(row * 47)..<((row + 1) * 47)].allSatisfy { $0 == -1 }, "residue row \(row)")
            for j in 0..<16 {
                #expect(pair.values[((row * 16 + j) * 10)] == -1 && pair.values[((j * 16 + row) * 10)] == -1)
            }
        }
        #expect(res.values[1 * 47] != -1 && pair.values[(1 * 16 + 2) * 10] != -1)
        // md_a has a missing residue at token 5 (-1 row and column), the rest is valid.
        let e = try s.example(at: 1)
        let r = try #require(e.features[DynamicsFeatureKeys.residue])
        #expect(r.values[5 * 47] == -1 && r.values[4 * 47] != -1 && r.values[6 * 47] != -1)
    }

    @Test("MD RMSF is divided by its maximum over valid residues; other columns and NMA data stay as stored")
    func rmsfNormalisation() throws {
        let s = try DynamicsFixtures.source()
        for i in 0..<s.count {
            let e = try s.example(at: i)
            let rec = try raw(e.id)
            let got = try #require(e.features[DynamicsFeatureKeys.residue]).values
            if rec.metadata.kind == .md {
                let c = rec.residue.shape[1]
                let rows = rec.residue.shape[0]
                let valid = (0..<rows).filter { rec.residue.values[$0 * c + 2] != -1 }
                let mx = valid.map { rec.residue.values[$0 * c + 2] }.max()!
                #expect(valid.map { got[$0 * c + 2] }.max() == 1)
                for r in 0..<rows {
                    for k in 0..<c {
                        let want = k == 2 && rec.residue.values[r * c + k] != -1 ? rec.residue.values[r * c + k] / mx : rec.residue.values[r * c + k]
                        #expect(got[r * c + k] == want)
                    }
                }
            } else {
                #expect(got == rec.residue.values)
            }
            #expect(e.features[DynamicsFeatureKeys.pair]!.values == rec.pair.values)
        }
        let off = HDF5FeatureSourceConfig(name: "x", path: DynamicsFixtures.store, names: ["md_a"])
        var cfg = off
        cfg.normalizeRMSF = false
        let e = try HDF5FeatureSource(cfg).example(at: 0)
        #expect(e.features[DynamicsFeatureKeys.residue]!.values == (try raw("md_a")).residue.values)
    }

    @Test("cropping keeps tokens, residue rows and pair entries aligned")
    func cropping() throws {
        let e = try DynamicsFixtures.source(["md_a"]).example(at: 0)     // 22 residues
        let c = e.cropped(start: 3, length: 10)
        let keep = [0] + Array(4..<14) + [23]
        #expect(c.tokens == keep.map { e.tokens[$0] })
        let r0 = e.features[DynamicsFeatureKeys.residue]!, p0 = e.features[DynamicsFeatureKeys.pair]!
        let r1 = c.features[DynamicsFeatureKeys.residue]!, p1 = c.features[DynamicsFeatureKeys.pair]!
        #expect(r1.shape == [12, 47] && p1.shape == [12, 12, 10])
        for (i, oi) in keep.enumerated() {
            #expect(Array(r1.values[(i * 47)..<((i + 1) * 47)]) == Array(r0.values[(oi * 47)..<((oi + 1) * 47)]))
            for (j, oj) in keep.enumerated() {
                #expect(Array(p1.values[((i * 12 + j) * 10)..<((i * 12 + j + 1) * 10)])
                        == Array(p0.values[((oi * 24 + oj) * 10)..<((oi * 24 + oj + 1) * 10)]))
            }
        }
        // The missing residue (token 5) lands on row 2 of the crop, still -1.
        #expect(r1.values[2 * 47] == -1 && p1.values[(2 * 12 + 3) * 10] == -1)
    }

    @Test("feature_kind, names, source_filter and max_proteins select proteins")
    func selection() throws {
        func names(_ yaml: String) throws -> [String] {
            let p = try writeRecipe(dynamicsRecipe(sources: "    - {name: s, kind: hdf5_features, path: \(DynamicsFixtures.store), \(yaml)}"))
            let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
            let cfg = try #require(r.data.sources[0].config as? HDF5FeatureSourceConfig)
            let src = try #require(try cfg.makeSource(BuildContext(seed: 0, recipeDirectory: URL(fileURLWithPath: "/"), maxLength: 64)) as? HDF5FeatureSource)
            return src.entries.map(\.name)
        }
        #expect(try names("feature_kind: nma") == ["nma_a", "nma_b"])
        #expect(try names("feature_kind: md, max_proteins: 2") == ["md_a", "md_b"])
        #expect(try names("source_filter: [PED, GPCRmd]") == ["md_b", "md_c"])
        #expect(try names("names: [nma_b, md_c]") == ["nma_b", "md_c"])
        #expect(throws: RecipeError.self) { try names("feature_kind: xyz") }
        #expect(throws: DynamicsDataError.self) { try names("names: [nope]") }
    }

    @Test("a sequence whose token count does not match the features is an error naming the protein")
    func sequenceMismatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-dyn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.h5").path
        // As the published files: datasets only, no /metadata (so no sequence). L = 3, T = 5.
        var res = [Float](repeating: -1, count: 5 * 3), pair = [Float](repeating: -1, count: 5 * 5 * 3)
        for i in 1...3 {
            for c in 0..<3 { res[i * 3 + c] = 0.5 }
            for j in 1...3 { for c in 0..<3 { pair[(i * 5 + j) * 3 + c] = 0.1 } }
        }
        let file = try HDF5File.create(path)
        try file.write("p1_res_feature", res, shape: [5, 3])
        try file.write("p1_pair_feature", pair, shape: [5, 5, 3])
        file.close()
        // No sequence in the metadata: an error until one is given.
        #expect(throws: DynamicsDataError.self) { try HDF5FeatureSource(HDF5FeatureSourceConfig(name: "s", path: path)) }
        try "name,sequence\np1,MKTA\n".write(toFile: dir.appendingPathComponent("seqs.csv").path, atomically: true, encoding: .utf8)
        var cfg = HDF5FeatureSourceConfig(name: "s", path: path)
        cfg.sequences = RecipePath(dir.appendingPathComponent("seqs.csv").path)
        do {
            _ = try HDF5FeatureSource(cfg).example(at: 0)
            Issue.record("no error")
        } catch let e as DynamicsDataError {
            #expect(e.description.contains("p1") && e.description.contains("6 tokens"), "\(e)")
        }
        try "name,sequence\np1,MKT\n".write(toFile: dir.appendingPathComponent("seqs.csv").path, atomically: true, encoding: .utf8)
        #expect(try HDF5FeatureSource(cfg).example(at: 0).tokens.count == 5)
    }

    @Test("weights: published table, feature and column overrides, group mapping, errors")
    func weights() throws {
        func target(_ yaml: String) throws -> DynamicsRegressionConfig {
            let p = try writeRecipe(dynamicsRecipe(target: "  - {kind: dynamics_regression, \(yaml)}"))
            let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
            return try #require(r.targets[0].config as? DynamicsRegressionConfig)
        }
        let enc = EsmEncoder(try ModelSource.loadMaskedLM(RepoFixtures.tinyRotary.path))
        func weight(_ c: DynamicsRegressionConfig, _ group: String, _ f: String) throws -> Float {
            let t = try #require(try c.makeTarget(BuildContext(seed: 0, recipeDirectory: URL(fileURLWithPath: "/"), maxLength: 64), encoder: enc) as? DynamicsTarget)
            return try t.featureWeights(group: group)[SeqDanceSchema.index(of: f)!]
        }
        let d = try target("weights: seqdance")
        #expect(try weight(d, "md", "ps") == 9.039787 && weight(d, "idrome", "psi") == 1.443703 && weight(d, "nma", "nma_pair3") == 2.974789)
        #expect(try weight(d, "nma", "rmsf_nor") == 0 && weight(d, "md", "nma_res1") == 0)
        #expect(try weight(d, "proteinflow_pdb", "nma_res2") == 16.533815)
        let o = try target("weights: {rmsf_nor: 1.0, md: {vdw: 2.5}, mine: {corr: 3.0}}, groups: {sim: md, other: mine}")
        #expect(try weight(o, "md", "rmsf_nor") == 1 && weight(o, "idrome", "rmsf_nor") == 1 && weight(o, "md", "vdw") == 2.5)
        #expect(try weight(o, "idrome", "vdw") == 0.430570 && weight(o, "sim", "vdw") == 2.5)
        #expect(try weight(o, "other", "corr") == 3 && weight(o, "other", "vdw") == 0 && weight(o, "other", "rmsf_nor") == 1)
        let u = try target("weights: {base: uniform, nma: {nma_res1: 0.5}}")
        #expect(try weight(u, "md", "ss") == 1 && weight(u, "nma", "nma_res1") == 0.5)
        #expect(throws: TrainingError.self) { try weight(d, "somewhere", "vdw") }
        #expect(throws: RecipeError.self) { try target("weights: published") }
        #expect(throws: RecipeError.self) { try target("weights: {md: {rmsf: 1.0}}") }
        #expect(throws: RecipeError.self) { try target("groups: {sim: nowhere}") }
        #expect(throws: RecipeError.self) { try target("pair_impl: magic") }
        #expect(throws: RecipeError.self) { try target("unknown_key: 1") }
        // The resolved recipe writes the weights back in a form that loads again.
        let p = try writeRecipe(dynamicsRecipe(target: "  - {kind: dynamics_regression, weights: {rmsf_nor: 1.0, md: {vdw: 2.5}}}"))
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let yaml = try RecipeLoader.resolvedYAML(r)
        let p2 = try writeRecipe(yaml)
        let (r2, _) = try RecipeLoader.load(path: p2, registry: testRegistry())
        #expect((r2.targets[0].config as? DynamicsRegressionConfig)?.weights == (r.targets[0].config as? DynamicsRegressionConfig)?.weights)
    }

    @Test("a batch mixing MD and NMA proteins: each feature averages over the proteins that carry it")
    func mixedBatch() throws {
        let enc = EsmEncoder(try ModelSource.loadMaskedLM(RepoFixtures.tinyRotary.path))
        let t = try #require(try DynamicsRegressionConfig(weights: LossWeights(base: "uniform"))
            .makeTarget(BuildContext(seed: 3, recipeDirectory: URL(fileURLWithPath: "/"), maxLength: 64), encoder: enc) as? DynamicsTarget)
        t.heads.train(false)
        func run(_ names: [String]) throws -> TargetResult {
            let b = try DynamicsFixtures.batch(names, group: "md")
            let ctx = ForwardContext()
            return try withNoGrad { try t.loss(b, output: enc.encode(b.tokens, request: t.request, context: ctx), encoder: enc, context: ctx) }
        }
        let mixed = try run(["md_a", "nma_a", "md_c"])
        let mdOnly = try run(["md_a", "md_c"]), nmaOnly = try run(["nma_a"])
        #expect(Set(mixed.metrics.keys) == Set(SeqDanceSchema.featureNames))
        // Attention maps depend on the padded length only through masked keys, so per-protein values agree.
        for (f, v) in mixed.metrics {
            let want = f.hasPrefix("nma_") ? nmaOnly.metrics[f]! : mdOnly.metrics[f]!
            #expect(abs(v - want) < 1e-4, "\(f): \(v) vs \(want)")
        }
        #expect(abs(Double(mixed.loss.item()) - mixed.metrics.values.reduce(0, +)) < 1e-3)
    }
}

extension DynamicsDataTests {
    @Test("head sizes: about 1.19M parameters at t12_35M (SeqDance), pair_hidden defaults to layers x heads")
    func headSizes() {
        let h = DynamicsHeads(hidden: 480, layers: 12, heads: 20)
        #expect(h.pairHidden == 240 && h.parameterCount == 1_186_383)
        #expect(h.pairMiddle.weight.shape == [240, 960] && h.pairOutput.weight.shape == [13, 480])
        #expect(DynamicsHeads(hidden: 64, layers: 2, heads: 4, pairHidden: 12).pairOutput.weight.shape == [13, 20])
    }

    @Test("fused and autograd pair branches agree in training mode (dropout on, odd pair_hidden, small blocks)")
    func fusedMatchesAutograd() throws {
        func run(_ impl: PairImplementation) throws -> (Float, [String: [Float]]) {
            let enc = EsmEncoder(try ModelSource.loadMaskedLM(RepoFixtures.tinyRotary.path))
            let cfg = DynamicsRegressionConfig(dropout: 0.3, pairHidden: 7, pairImpl: impl, pairChunk: 500)
            let t = try #require(try cfg.makeTarget(BuildContext(seed: 11, recipeDirectory: URL(fileURLWithPath: "/"), maxLength: 64), encoder: enc) as? DynamicsTarget)
            t.heads.train(true)
            let b = try DynamicsFixtures.batch(["md_c", "md_a", "md_b"], group: "idrome")
            let ctx = ForwardContext(rng: RNG(seed: 5))
            let l = try t.loss(b, output: enc.encode(b.tokens, request: t.request, context: ctx), encoder: enc, context: ctx)
            l.loss.backward()
            var g: [String: [Float]] = [:]
            for (n, p) in t.heads.namedParameters() + enc.module.namedParameters() { if let gr = p.value.grad { g[n] = gr.toArray() } }
            return (l.loss.item(), g)
        }
        let (la, ga) = try run(.autograd), (lf, gf) = try run(.fused)
        #expect(abs(la - lf) <= 1e-5 * abs(la), "\(la) vs \(lf)")
        #expect(Set(ga.keys) == Set(gf.keys) && ga.count > 20)
        for (n, a) in ga {
            let (r, at) = maxRelDiff(gf[n]!, a)
            #expect(r < 1e-4, "\(n): \(r) at \(at)")
        }
    }
}

/// A minimal dynamics recipe around `sources` / `target` lines.
func dynamicsRecipe(sources: String? = nil, target: String = "  - {kind: dynamics_regression}") -> String {
    """
    model:
      encoder: {kind: esm2, layers: 1, hidden_size: 16, heads: 2}
    targets:
    \(target)
    data:
      sources:
    \(sources ?? "    - {name: s, kind: hdf5_features, path: \(DynamicsFixtures.store)}")
      max_length: 32
    optimizer: {kind: adamw, lr: 1.0e-3}
    training: {steps: 1, batch_size: 1}
    """
}

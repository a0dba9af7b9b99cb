import ContrastiveStructure
import Foundation
import PLMKit
import Tuning
import PLMNN
import PLMTensor
import Testing

/// recipes/splm.yaml shrunk to CPU-test size on the bundled structures.
let splmRecipe = RepoFixtures.root.appendingPathComponent("recipes/splm.yaml").path

func splmOverrides(steps: Int, extra: [String] = []) -> [String] {
    [
        "model.encoder={kind: esm2, layers: 1, hidden_size: 32, heads: 2}", "model.tuning.layers={top: 1}",
        "targets.0.patch_size=8", "targets.0.dim=16", "targets.0.depth=2", "targets.0.heads=2", "targets.0.window=2",
        "targets.0.projection_hidden=32", "targets.0.projection_dim=16",
        "data.max_length=64", "data.sources.0.validation_fraction=0",
        "training.steps=\(steps)", "training.batch_size=11", "training.log_every=1",
        "training.eval_every=1000", "training.checkpoint_every=1000",
    ] + extra
}

@Suite("Contrastive recipe", .serialized)
struct ContrastiveRecipeTests {
    func tempRun(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("plm-splm-\(UUID().uuidString)-\(name)")
    }

    func trainLines(_ run: URL) throws -> [[String: Any]] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test("recipes/splm.yaml loads as written: S-PLM settings")
    func loadsAsWritten() throws {
        let (r, _) = try RecipeLoader.load(path: splmRecipe, registry: testRegistry())
        let t = try #require(r.targets[0].config as? ContrastiveStructureConfig)
        #expect(t.temperature == 0.05 && t.distanceThresholds == [22, 22, 22] && t.projectionHidden == 4096 && t.projectionDim == 256)
        let opt = try #require(r.optimizer.config as? SGDConfig)
        #expect(opt.lr == 1e-3 && opt.momentum == 0.9 && opt.weightDecay == 5e-4)
        let sched = try #require(r.schedule?.config as? CosineRestartsConfig)
        #expect(sched.firstCycleSteps == 100)
        #expect(r.training.batchSize == 20 && r.training.clip?.norm == 1.0 && r.data.maxLength == 512)
        // As the paper: ESM-2 frozen, serial adapters trained (here in both layers of the bundled tiny model).
        #expect(r.model.tuning?.kind == "adapters")
        let tuning = try #require(r.model.tuning?.config as? AdaptersConfig)
        #expect(tuning.mode == .serial && tuning.layers == .top(2))
        let src = try #require(r.data.sources[0].config as? StructureSourceConfig)
        #expect(FileManager.default.fileExists(atPath: src.path.path), "bundled structures at \(src.path.path)")
        let yaml = try RecipeLoader.resolvedYAML(r)
        #expect(yaml.contains("kind: contrastive_structure") && yaml.contains("temperature: 0.05"), "\(yaml)")
    }

    @Test("unknown or bad target keys are recipe errors with a key path")
    func badKeys() throws {
        for (o, key) in [("targets.0.temprature=0.1", "targets.0.temprature"), ("targets.0.temperature=0", "targets.0.temperature"),
                         ("targets.0.positions=rotary", "targets.0.positions"), ("data.sources.0.chains=A", "data.sources.0.chains")] {
            do {
                _ = try RecipeLoader.load(path: splmRecipe, overrides: [o], registry: testRegistry())
                Issue.record("\(o) was accepted")
            } catch let e as RecipeError {
                #expect(e.keyPath == key, "\(e)")
            }
        }
    }

    @Test("a shortened splm run trains on the bundled structures: loss falls, retrieval is reported, validation runs")
    func trains() throws {
        let (recipe, _) = try RecipeLoader.load(
            path: splmRecipe,
            overrides: splmOverrides(steps: 10, extra: ["optimizer.lr=0.05", "schedule.warmup_steps=0", "data.sources.0.validation_fraction=0.2",
                                                        "training.batch_size=8", "training.eval_every=10"]),
            registry: testRegistry())
        let run = tempRun("train")
        defer { try? FileManager.default.removeItem(at: run) }
        let trainer = try Trainer(recipe: recipe, runDirectory: run, resume: false, showProgress: false, log: { _ in })
        let summary = try trainer.run()
        #expect(summary.steps == 10 && summary.finalLoss.isFinite)
        // frozen encoder: only the contrastive head and the serial adapters train
        #expect(trainer.parameters.allSatisfy { $0.name.hasPrefix("heads.contrastive.") || $0.name.contains(".adapters.splm.") })
        #expect(trainer.parameters.contains { $0.name.contains(".adapters.splm.") })
        let lines = try trainLines(run)
        let train = lines.filter { $0["split"] as? String == "train" }
        #expect(train.count == 10)
        let losses = train.compactMap { $0["loss"] as? Double }
        let early = losses.prefix(3).reduce(0, +) / 3, late = losses.suffix(3).reduce(0, +) / 3
        #expect(late < early, "loss did not fall: \(losses)")
        for k in ["contrastive/top1_seq_to_struct", "contrastive/top1_struct_to_seq", "contrastive/positive_cosine", "grad_norm"] {
            #expect(train.last?[k] != nil, "metrics lack \(k)")
        }
        let validation = lines.filter { $0["split"] as? String == "validation" }
        #expect(validation.count == 1 && (validation[0]["loss"] as? Double)?.isFinite == true, "\(validation)")
        // heads.safetensors holds the structure encoder, both projectors and the BatchNorm running statistics
        let heads = try SafeTensorsFile(url: run.appendingPathComponent("checkpoint-10/heads.safetensors"))
        for n in ["heads.contrastive.structure_encoder.patch_embed.weight", "heads.contrastive.sequence_projector.bn.running_var",
                  "heads.contrastive.structure_projector.bn.running_mean"] {
            #expect(heads.contains(n), "heads.safetensors lacks \(n)")
        }
        #expect(try heads.tensor("heads.contrastive.sequence_projector.bn.running_var").toArray() != [Float](repeating: 1, count: 32))
    }

    /// Byte-for-byte comparison in a child process: OpenBLAS's sgemm results
    /// depend on its (process-wide) thread count, which parallel tests change.
    @Test("full tuning reaches the encoder; N + resume + N equals 2N bit for bit (BatchNorm statistics included)")
    func resumeBitExact() async throws {
        await #expect(processExitsWith: .success) {
            exit(try splmResumeIsBitExact() ? 0 : 1)
        }
    }
}

/// 4 steps straight vs 2 + resume + 2 under full tuning: true when model,
/// heads (incl. BatchNorm statistics) and optimizer files are identical and
/// the encoder trained.
func splmResumeIsBitExact() throws -> Bool {
    let (recipe, _) = try RecipeLoader.load(path: splmRecipe,
                                            overrides: splmOverrides(steps: 4, extra: ["model.tuning={kind: full}", "optimizer.lr=0.02"]),
                                            registry: testRegistry())
    let tmp = FileManager.default.temporaryDirectory
    func run(_ n: String) -> URL { tmp.appendingPathComponent("plm-splm-\(UUID().uuidString)-\(n)") }
    let a = run("straight"), b = run("resumed")
    defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
    let sa = try Trainer(recipe: recipe, runDirectory: a, resume: false, showProgress: false, log: { _ in }).run()
    _ = try Trainer(recipe: recipe, runDirectory: b, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 2)
    let sb = try Trainer(recipe: recipe, runDirectory: b, resume: true, showProgress: false, log: { _ in }).run()
    var ok = sb.steps == 4 && sb.resumedFrom == 2 && sa.finalLoss == sb.finalLoss
    for f in ["model.safetensors", "heads.safetensors", "optimizer.safetensors"] {
        let x = try Data(contentsOf: a.appendingPathComponent("checkpoint-4/\(f)"))
        let y = try Data(contentsOf: b.appendingPathComponent("checkpoint-4/\(f)"))
        if x != y { FileHandle.standardError.write(Data("\(f) differs after resume\n".utf8)); ok = false }
    }
    let init0 = try Trainer(recipe: recipe, runDirectory: run("init"), resume: false, showProgress: false, log: { _ in })
    let w0 = init0.encoder.module.namedParameters().first { $0.name.hasSuffix("layer.0.attention.self.query.weight") }!.parameter.value.toArray()
    let w4 = try SafeTensorsFile(url: a.appendingPathComponent("checkpoint-4/model.safetensors"))
        .tensor("esm.encoder.layer.0.attention.self.query.weight").toArray()
    return ok && w0 != w4
}

import DynamicsRegression
import Foundation
import PLMKit
import PLMNN
import PLMTensor
import Testing

@Suite("Dynamics recipes", .serialized)
struct DynamicsRecipeTests {
    static let recipes = RepoFixtures.root.appendingPathComponent("recipes")

    func trainLosses(_ recipe: String, _ overrides: [String]) throws -> (TrainingSummary, [[String: Any]], Trainer) {
        let (r, _) = try RecipeLoader.load(path: Self.recipes.appendingPathComponent(recipe).path, overrides: overrides, registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("dyn-\(recipe)"))
        defer { try? FileManager.default.removeItem(at: run) }
        let trainer = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in })
        let s = try trainer.run()
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == "train" }
        return (s, lines, trainer)
    }

    static let short = [
        "training.steps=10", "training.batch_size=2", "training.grad_accumulation=1", "training.log_every=1",
        "training.checkpoint_every=null", "schedule.warmup_steps=1", "optimizer.lr=3.0e-3",
        "data.curriculum=[{until: 0.5, max_length: 24}, {until: 1.0, max_length: 40}]",
    ]

    @Test("recipes/seqdance.yaml as published loads (t12_35M from scratch, 200k steps, clip by value)")
    func published() throws {
        let (r, _) = try RecipeLoader.load(path: Self.recipes.appendingPathComponent("seqdance.yaml").path, registry: testRegistry())
        #expect(r.seed == 42 && r.training.steps == 200_000 && r.training.clip?.value == 0.5)
        #expect(r.maxLength(atStep: 159_999) == 254 && r.maxLength(atStep: 160_000) == 1022)
        let enc = try #require(r.model.encoder.config as? EsmEncoderConfig)
        #expect(enc.preset == "t12_35M" && enc.initScheme == "seqdance" && enc.dropout == 0.1)
        let opt = try #require(r.optimizer.config as? AdamWConfig)
        #expect(opt.lr == 1e-4 && opt.betas == [0.9, 0.98] && opt.weightDecay == 0.01 && opt.eps == 1e-8)
        let t = try #require(r.targets[0].config as? DynamicsRegressionConfig)
        #expect(t.weights == LossWeights(base: "seqdance") && t.dropout == 0.1)
        let (e, _) = try RecipeLoader.load(path: Self.recipes.appendingPathComponent("esmdance.yaml").path, registry: testRegistry())
        #expect(e.training.steps == 60_000 && e.maxLength(atStep: 39_999) == 254 && e.maxLength(atStep: 40_000) == 1022)
        #expect(e.model.tuning?.kind == "frozen")
    }

    @Test("seqdance.yaml trains end to end on the bundled data with a tiny encoder; the loss falls")
    func seqdanceSmoke() throws {
        let (s, lines, trainer) = try trainLosses("seqdance.yaml", Self.short + [
            "model.encoder={kind: esm2, layers: 2, hidden_size: 32, heads: 4, init: seqdance, dropout: 0.1, attention_dropout: 0.1}",
        ])
        #expect(s.steps == 10 && s.finalLoss.isFinite)
        let losses = lines.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 10)
        let early = losses.prefix(3).reduce(0, +) / 3, late = losses.suffix(3).reduce(0, +) / 3
        print("seqdance smoke: losses \(losses.map { String(format: "%.3f", $0) }.joined(separator: " "))")
        #expect(late < early, "loss did not fall: \(early) -> \(late)")
        // Per-feature losses of both sources are logged.
        let keys = Set(lines.flatMap { $0.keys })
        for k in ["dynamics/md/rmsf_nor", "dynamics/md/corr", "dynamics/md/ss", "dynamics/nma/nma_res1", "dynamics/nma/nma_pair3"] {
            #expect(keys.contains(k), "missing metric \(k) in \(keys.sorted())")
        }
        #expect(!keys.contains("dynamics/nma/rmsf_nor"))
        // Heads: 2 MLPs + pair layers; encoder and heads both train.
        #expect(s.trainableParameters == s.totalParameters)
        _ = trainer
    }

    @Test("esmdance.yaml trains the heads only on a frozen bundled encoder")
    func esmdanceSmoke() throws {
        let before = try SafeTensorsFile(url: RepoFixtures.root.appendingPathComponent("examples/seqdance/tiny-esm/model.safetensors"))
            .tensor("esm.encoder.layer.0.attention.self.query.weight").toArray()
        let (s, lines, trainer) = try trainLosses("esmdance.yaml", Self.short + ["model.encoder.weights=../examples/seqdance/tiny-esm"])
        #expect(s.steps == 10 && s.finalLoss.isFinite)
        let heads = try #require(trainer.targets[0].head).parameterCount
        #expect(s.trainableParameters == heads && s.totalParameters > heads)
        let after = trainer.encoder.module.namedParameters().first { $0.name == "esm.encoder.layer.0.attention.self.query.weight" }!.parameter.value.toArray()
        #expect(before == after, "the frozen encoder changed")
        let losses = lines.compactMap { $0["loss"] as? Double }
        print("esmdance smoke: losses \(losses.map { String(format: "%.3f", $0) }.joined(separator: " "))")
        #expect(losses.suffix(3).reduce(0, +) < losses.prefix(3).reduce(0, +), "loss did not fall: \(losses)")
    }
}

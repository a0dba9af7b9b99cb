import Downstream
import Foundation
import PLMKit
import PLMNN
import PLMTensor
import Testing

/// The bundled tune-* recipes run end to end (short runs through RecipeLoader + Trainer).
@Suite("Downstream recipes", .serialized)
struct DownstreamRecipeTests {
    static func recipe(_ name: String) -> String { RepoFixtures.root.appendingPathComponent("recipes/\(name)").path }

    func lines(_ run: URL, _ split: String) throws -> [[String: Any]] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == split }
    }

    /// Trains `name` for `steps` steps; returns the trainer and its run directory.
    func train(_ name: String, steps: Int, extra: [String] = []) throws -> (Trainer, URL) {
        let overrides = ["training.steps=\(steps)", "training.log_every=1", "training.eval_every=\(steps / 2)",
                         "training.checkpoint_every=\(steps)", "schedule.warmup_steps=1"] + extra
        let (r, _) = try RecipeLoader.load(path: Self.recipe(name), overrides: overrides, registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("tune-\(name)"))
        let t = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in })
        _ = try t.run()
        return (t, run)
    }

    func lossFalls(_ run: URL, key: String = "loss") throws {
        let train = try lines(run, "train").compactMap { $0[key] as? Double }
        let early = train.prefix(4).reduce(0, +) / 4, late = train.suffix(4).reduce(0, +) / 4
        #expect(late < early, "\(key) did not fall: \(early) → \(late) (\(train))")
    }

    @Test("tune-lora-ss: loss falls, validation Q3 / macro-F1 logged on exactly the CSV's valid rows")
    func loraSS() throws {
        let (_, run) = try train("tune-lora-ss.yaml", steps: 24, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: run) }
        try lossFalls(run)
        let v = try lines(run, "validation")
        #expect(v.count == 2)
        for k in ["loss", "residue_classification/accuracy", "residue_classification/macro_f1"] {
            #expect(v.last?[k] is Double, "validation lacks \(k): \(v.last ?? [:])")
        }
        // batch_size 4 = the 4 valid rows: one validation batch, so `residues` is their labelled residue count
        // (each cropped to max_length 128 from the start).
        let csv = try String(contentsOf: RepoFixtures.root.appendingPathComponent("examples/tuning/ss3.csv"), encoding: .utf8)
        let valid = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }.filter { $0.last == "valid" }
        let expected = valid.reduce(0) { $0 + min($1[2].count, 128) }
        #expect(valid.count == 4 && v.last?["residue_classification/residues"] as? Double == Double(expected))
    }

    @Test("tune-adapters-ss: loss falls, validation metrics logged")
    func adaptersSS() throws {
        let (t, run) = try train("tune-adapters-ss.yaml", steps: 24, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: run) }
        try lossFalls(run)
        let v = try lines(run, "validation")
        #expect(v.last?["residue_classification/accuracy"] is Double)
        let c = t.parameterCounts
        #expect(c.trainable < c.total / 4, "adapters should train a small part: \(c)")
    }

    @Test("tune-topk-class: loss falls, classification and regression metrics logged")
    func topKClass() throws {
        let (_, run) = try train("tune-topk-class.yaml", steps: 30, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: run) }
        try lossFalls(run)
        let v = try lines(run, "validation").last ?? [:]
        for k in ["classification/disorder/accuracy", "classification/disorder/macro_f1", "regression/fold/loss",
                  "regression/fold/pearson", "regression/fold/spearman"] {
            #expect(v[k] is Double, "validation lacks \(k): \(v)")
        }
        let train = try lines(run, "train")
        #expect(train.contains { $0["classification/disorder/accuracy"] is Double })
    }

    @Test("the bundled tune-* recipes, unmodified, beat the majority-class / mean baseline on their held-out split",
          arguments: ["tune-lora-ss.yaml", "tune-adapters-ss.yaml", "tune-topk-class.yaml"])
    func beatsBaseline(_ name: String) throws {
        let (r, _) = try RecipeLoader.load(path: Self.recipe(name), overrides: [], registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("tune-full-\(name)"))
        defer { try? FileManager.default.removeItem(at: run) }
        let summary = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run()
        /// Checks every `<metric>/baseline_<classMetric>` (model > baseline + 0.1) and
        /// `/baseline_mse` (model < baseline) in `m`; returns how many it compared.
        func beatsBaselines(_ m: [String: Double], classMetric: String, _ split: String) throws -> Int {
            var compared = 0
            for (k, base) in m where k.hasSuffix("/baseline_\(classMetric)") || k.hasSuffix("/baseline_mse") {
                let metric = k.replacingOccurrences(of: "baseline_", with: "")
                let model = try #require(m[metric])
                if k.hasSuffix("/baseline_mse") {
                    #expect(model < base, "\(name) \(split): mse \(model) vs baseline \(base)")
                } else {
                    #expect(model > base + 0.1, "\(name) \(split): \(metric) \(model) vs baseline \(base)")
                }
                compared += 1
            }
            return compared
        }
        let v = try #require(summary.validation)
        #expect(try beatsBaselines(v, classMetric: "accuracy", "validation") >= 1, "no baseline in \(v)")
        // The test split, scored once at the end with best/: classification must beat the
        // majority class on macro-F1 (accuracy on the 5 ss3 test chains is near the
        // majority's: docs in examples/tuning/README.md), regression the training mean.
        let t = try #require(summary.test, "\(name): no test metrics")
        #expect(summary.testCheckpoint == "best")
        #expect(try beatsBaselines(t, classMetric: "macro_f1", "test") >= 1, "no test baseline in \(t)")
    }

    @Test("test split: exactly the CSV's test rows, never trained on, scored once with best/; Trainer.evaluating reproduces it from disk")
    func testSplit() throws {
        let (trainer, run) = try train("tune-topk-class.yaml", steps: 8)
        defer { try? FileManager.default.removeItem(at: run) }
        let summary = try JSONDecoder().decode(SummaryProbe.self, from: Data(contentsOf: run.appendingPathComponent("summary.json")))
        let test = try #require(summary.test)
        #expect(summary.test_checkpoint == "best")
        // Item counts are the CSVs' test rows: disorder.csv 63, ss3.csv 5.
        func count(_ file: String, _ column: Int, _ split: String) throws -> Int {
            let csv = try String(contentsOf: RepoFixtures.root.appendingPathComponent("examples/tuning/\(file)"), encoding: .utf8)
            return csv.split(separator: "\n").dropFirst().filter { $0.split(separator: ",").map(String.init)[column] == split }.count
        }
        #expect(test["classification/disorder/items"] == Double(try count("disorder.csv", 3, "test")))
        #expect(test["regression/fold/items"] == Double(try count("ss3.csv", 6, "test")))
        // One test line in metrics.jsonl, at the final step, naming best/'s step.
        let lines = try lines(run, "test")
        let bestStep = try JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: run.appendingPathComponent("best/state.json"))).step
        #expect(lines.count == 1 && lines[0]["step"] as? Int == 8 && lines[0]["checkpoint_step"] as? Double == Double(bestStep))
        // A fresh trainer built from config.resolved.yaml (what `plm evaluate` does) gets the same numbers from best/ ...
        let evaluator = try Trainer.evaluating(runDirectory: run, registry: testRegistry(), log: { _ in })
        let again = try #require(try evaluator.evaluate(checkpoint: run.appendingPathComponent("best"), split: .test))
        #expect(again == test)
        // ... and best/ on the validation split reproduces the validation line logged at its step.
        let valLine = try #require(try self.lines(run, "validation").first { $0["step"] as? Int == bestStep })
        let val = try #require(try evaluator.evaluate(checkpoint: run.appendingPathComponent("best"), split: .validation))
        let logged = try #require(valLine["loss"] as? Double)
        #expect(abs(try #require(val["loss"]) - logged) <= 1e-12 * logged, "best/ validation loss \(val["loss"] ?? .nan) vs logged \(logged)")
        // Another checkpoint gives other numbers (the weights really are reloaded).
        if bestStep != 8 {
            let last = try #require(try evaluator.evaluate(checkpoint: run.appendingPathComponent("checkpoint-8"), split: .test))
            #expect(last["loss"] != test["loss"])
        }
        _ = trainer
        // An interrupted run scores nothing on the test split.
        let (r, _) = try RecipeLoader.load(path: Self.recipe("tune-topk-class.yaml"), overrides: ["training.steps=8"], registry: testRegistry())
        let stopped = URL(fileURLWithPath: RepoFixtures.temp("tune-stopped"))
        defer { try? FileManager.default.removeItem(at: stopped) }
        let s = try Trainer(recipe: r, runDirectory: stopped, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 3)
        #expect(s.interrupted && s.test == nil)
    }

    @Test("whole-set validation: metrics over every held-out protein across batches, majority / mean baselines from the training split")
    func wholeSetEvaluation() throws {
        // batch_size 3: the valid rows come in many validation batches; the reported numbers cover all of them.
        let (_, run) = try train("tune-topk-class.yaml", steps: 4, extra: ["training.batch_size=3"])
        defer { try? FileManager.default.removeItem(at: run) }
        let v = try #require(try lines(run, "validation").last)
        func rows(_ file: String) throws -> [[String]] {
            let csv = try String(contentsOf: RepoFixtures.root.appendingPathComponent("examples/tuning/\(file)"), encoding: .utf8)
            return csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        }
        // Classification (disorder.csv: id, sequence, disorder, split): the training majority class
        // (ties: lower index) and its accuracy on the valid rows.
        let d = try rows("disorder.csv")
        let dTrain = d.filter { $0[3] == "train" }, dValid = d.filter { $0[3] == "valid" }
        let classes = ["idr", "folded"]
        let counts = classes.map { c in dTrain.filter { $0[2] == c }.count }
        let majority = counts.indices.max(by: { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) })!
        let baseAcc = Double(dValid.filter { $0[2] == classes[majority] }.count) / Double(dValid.count)
        #expect(v["classification/disorder/items"] as? Double == Double(dValid.count))
        #expect(v["classification/disorder/baseline_class"] as? Double == Double(majority))
        #expect(abs((v["classification/disorder/baseline_accuracy"] as? Double ?? -1) - baseAcc) < 1e-12)
        // Regression (ss3.csv: ..., helix_fraction at 4, split at 6): MSE of the training mean on the valid rows.
        let f = try rows("ss3.csv")
        let fTrain = f.filter { $0[6] == "train" }, fValid = f.filter { $0[6] == "valid" }
        let mean = fTrain.reduce(0.0) { $0 + Double($1[4])! } / Double(fTrain.count)
        let baseMSE = fValid.reduce(0.0) { $0 + pow(Double($1[4])! - mean, 2) } / Double(fValid.count)
        #expect(v["regression/fold/items"] as? Double == Double(fValid.count))
        let got = try #require(v["regression/fold/baseline_mse"] as? Double)
        #expect(abs(got - baseMSE) < 1e-6 * max(baseMSE, 1e-3), "baseline_mse \(got) vs \(baseMSE)")
        // The summary carries the same last evaluation.
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as? [String: Any]
        let sv = try #require(summary?["validation"] as? [String: Double])
        #expect(sv["classification/disorder/baseline_accuracy"] == v["classification/disorder/baseline_accuracy"] as? Double)
    }

    @Test("early stopping: patience counts evaluations without a min_delta improvement; the stop is a completed run; resume has nothing to do")
    func earlyStopping() throws {
        // min_delta 10: only the first evaluation counts as an improvement, so patience 2 stops at the third (step 6).
        let sets = ["training.steps=40", "training.eval_every=2", "training.log_every=1", "training.checkpoint_every=1000",
                    "training.early_stopping={patience: 2, min_delta: 10}"]
        let (r, _) = try RecipeLoader.load(path: Self.recipe("tune-topk-class.yaml"), overrides: sets, registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("tune-early"))
        defer { try? FileManager.default.removeItem(at: run) }
        var logged: [String] = []
        let s = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { logged.append($0) }).run()
        #expect(s.steps == 6 && s.stoppedEarly && !s.interrupted, "\(s)")
        #expect(logged.contains { $0.hasPrefix("early stopping at step 6") }, "\(logged)")
        #expect(try lines(run, "validation").map { $0["step"] as? Int } == [2, 4, 6])
        #expect(s.test != nil && s.testCheckpoint == "best")   // a completed run scores its test split
        let state = try JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: run.appendingPathComponent("checkpoint-6/state.json")))
        #expect(state.stoppedEarly == true && state.evaluationsWithoutImprovement == 2)
        let again = try Trainer(recipe: r, runDirectory: run, resume: true, showProgress: false, log: { _ in }).run()
        #expect(again.steps == 6 && again.stoppedEarly)
        // Without min_delta the same run goes on (the loss keeps improving at first).
        let (r2, _) = try RecipeLoader.load(path: Self.recipe("tune-topk-class.yaml"),
                                            overrides: sets.dropLast() + ["training.early_stopping={patience: 2}", "training.steps=8"], registry: testRegistry())
        let run2 = URL(fileURLWithPath: RepoFixtures.temp("tune-early2"))
        defer { try? FileManager.default.removeItem(at: run2) }
        let s2 = try Trainer(recipe: r2, runDirectory: run2, resume: false, showProgress: false, log: { _ in }).run()
        #expect(s2.steps == 8 && !s2.stoppedEarly)
        // Recipe checks.
        for (o, key) in [("training.early_stopping={patience: 0}", "training.early_stopping.patience"),
                         ("training.early_stopping={patience: 2, min_delta: -1}", "training.early_stopping.min_delta")] {
            do {
                _ = try RecipeLoader.load(path: Self.recipe("tune-topk-class.yaml"), overrides: [o], registry: testRegistry())
                Issue.record("\(o) was accepted")
            } catch let e as RecipeError { #expect(e.keyPath == key, "\(e)") }
        }
        do {
            _ = try RecipeLoader.load(path: RepoFixtures.root.appendingPathComponent("recipes/quickstart.yaml").path,
                                      overrides: ["training.early_stopping={patience: 2}", "training.eval_every=null"], registry: testRegistry())
            Issue.record("early stopping without eval_every was accepted")
        } catch let e as RecipeError { #expect(e.keyPath == "training.early_stopping" && "\(e)".contains("eval_every"), "\(e)") }
    }

    /// A trainer for `name` with `overrides` (not run).
    func build(_ name: String, _ overrides: [String]) throws -> Trainer {
        let (r, _) = try RecipeLoader.load(path: Self.recipe(name), overrides: overrides, registry: testRegistry())
        return try Trainer(recipe: r, runDirectory: URL(fileURLWithPath: RepoFixtures.temp("tune-build")), resume: false,
                           showProgress: false, log: { _ in })
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test("top_k: exactly the top K layers (+ final norm by default, embeddings / LM head on request) and the heads train")
    func topKSelection() throws {
        let encoderNames = { (t: Trainer) in Set(t.parameters.map(\.name).filter { !$0.hasPrefix("heads.") }) }
        let all = try build("tune-topk-class.yaml", []).encoder.module.namedParameters().map(\.name)
        func expected(layers: [Int], norm: Bool, embeddings: Bool = false) -> Set<String> {
            Set(all.filter { n in
                layers.contains { n.contains("encoder.layer.\($0).") } || (norm && n.contains("emb_layer_norm_after"))
                    || (embeddings && n.contains("embeddings."))
            })
        }
        // tiny-esm-mlm: 3 layers
        let k1 = try build("tune-topk-class.yaml", ["model.tuning={kind: top_k, k: 1}"])
        #expect(encoderNames(k1) == expected(layers: [2], norm: true), "\(encoderNames(k1).sorted())")
        #expect(k1.parameters.contains { $0.name.hasPrefix("heads.") })
        let noNorm = try build("tune-topk-class.yaml", ["model.tuning={kind: top_k, k: 2, final_norm: false}"])
        #expect(encoderNames(noNorm) == expected(layers: [1, 2], norm: false))
        let emb = try build("tune-topk-class.yaml", ["model.tuning={kind: top_k, k: 1, embeddings: true}"])
        #expect(encoderNames(emb) == expected(layers: [2], norm: true, embeddings: true))
        #expect(!expected(layers: [], norm: false, embeddings: true).isEmpty)
        let k0 = try build("tune-topk-class.yaml", ["model.tuning={kind: top_k, k: 0, final_norm: false}"])
        #expect(encoderNames(k0).isEmpty && !k0.parameters.isEmpty, "k 0: heads only")
        let head = try build("tune-topk-class.yaml", ["model.tuning={kind: top_k, k: 0, final_norm: false, lm_head: true}"])
        #expect(!encoderNames(head).isEmpty && encoderNames(head).allSatisfy { $0.contains("lm_head") }, "\(encoderNames(head).sorted())")
    }

    @Test("tuning and split mistakes are recipe errors, never crashes or silent changes; lora targets by unique suffix")
    func tuningMistakes() throws {
        let lora = "tune-lora-ss.yaml"
        #expect(message { _ = try build(lora, ["model.tuning.layers=[0, 0]"]) }.contains("model.tuning.layers: layer 0 is listed more than once"))
        #expect(message { _ = try build(lora, ["model.tuning.layers=[]"]) }.contains("name at least one layer index"))
        #expect(message { _ = try build(lora, ["model.tuning.layers={top: 0}"]) }.contains("model.tuning.layers.top: must be at least 1"))
        #expect(message { _ = try build(lora, ["model.tuning.alpha=-3"]) }.contains("model.tuning.alpha: must be a positive number"))
        #expect(message { _ = try build(lora, ["model.tuning.targets=[value, value]"]) }.contains("'value' is listed more than once"))
        #expect(message { _ = try build(lora, ["model.tuning.targets=[query, attention.self.query]"]) }
            .contains("lora: targets 'query' and 'attention.self.query' both name attention.self.query"))
        #expect(message { _ = try build(lora, ["model.tuning.targets=[dense]"]) }
            .contains("lora: target 'dense' matches 3 Linear modules in layer 1 (attention.output.dense, intermediate.dense, output.dense); name one"))
        #expect(message { _ = try build(lora, ["model.tuning.targets=[nope]"]) }.contains("lora: layer 1 has no Linear 'nope'"))
        #expect(message { _ = try build("tune-adapters-ss.yaml", ["model.tuning.layers=[2, 2]"]) }.contains("layer 2 is listed more than once"))
        // A unique suffix names its module: the same LoRA as the full names.
        let short = try build(lora, ["model.tuning.targets=[query, self.value]"])
        let full = try build(lora, ["model.tuning.targets=[attention.self.query, attention.self.value]"])
        let names = short.parameters.map(\.name)
        #expect(names == full.parameters.map(\.name) && names.filter { $0.contains("lora_A") }.count == 4, "\(names)")
        #expect(names.contains { $0.contains("attention.self.query.lora_B") } && !names.contains { $0.contains("key.lora") })
        // A split name that matches no row is an error naming what the column holds.
        for key in ["split", "holdout_split", "test_split"] {
            let m = message { _ = try build(lora, ["data.sources.0.\(key)=tst"]) }
            #expect(m.contains("labelled_csv ss: \(key) 'tst' matches no row of") && m.contains("holds: test, train, valid"), "\(m)")
        }
    }

    @Test("adapters existing: a new set trains beside an earlier run's set, which stays bit-identical and frozen")
    func adapterSets() throws {
        let (_, first) = try train("tune-adapters-ss.yaml", steps: 4, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: first) }
        let ck1 = first.appendingPathComponent("checkpoint-4")
        let old = try SafeTensorsFile(url: ck1.appendingPathComponent("adapters.safetensors")).tensors(copy: true)
        #expect(!old.isEmpty && old.keys.allSatisfy { $0.contains(".adapters.ss.") }, "\(old.keys.sorted().prefix(3))")
        let (t, second) = try train("tune-adapters-ss.yaml", steps: 4, extra: [
            "optimizer.lr=0.01", "model.tuning={kind: adapters, name: task2, mode: parallel, bottleneck: 8, layers: {top: 1}, existing: \(ck1.path)}"])
        defer { try? FileManager.default.removeItem(at: second) }
        // Only the new set (and the head) train.
        let trainable = t.parameters.map(\.name).filter { !$0.hasPrefix("heads.") }
        #expect(!trainable.isEmpty && trainable.allSatisfy { $0.contains(".adapters.task2.") }, "\(trainable)")
        let saved = try SafeTensorsFile(url: second.appendingPathComponent("checkpoint-4/adapters.safetensors")).tensors(copy: true)
        for (k, v) in old { #expect(saved[k]?.toArray() == v.toArray(), "\(k) changed or missing") }
        let new = saved.filter { $0.key.contains(".adapters.task2.") }
        #expect(!new.isEmpty && new.count + old.count == saved.count)
        // The new set's up-projections start at zero and moved.
        #expect(new.contains { $0.key.contains("up") && $0.value.toArray().contains { $0 != 0 } }, "\(new.keys.sorted())")
        // A name already used by the earlier run is refused.
        do {
            _ = try train("tune-adapters-ss.yaml", steps: 2, extra: ["model.tuning={kind: adapters, name: ss, existing: \(ck1.path)}"])
            Issue.record("a repeated set name was accepted")
        } catch { #expect("\(error)".contains("set 'ss' already exists"), "\(error)") }
    }

    @Test("adapter-only LoRA checkpoint: tuning.json + adapters.safetensors alone go onto the base (inference and lora.weights)")
    func adapterOnly() throws {
        let (_, run) = try train("tune-lora-ss.yaml", steps: 4, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: run) }
        let ck = run.appendingPathComponent("checkpoint-4")
        let only = URL(fileURLWithPath: RepoFixtures.temp("lora-only"))
        defer { try? FileManager.default.removeItem(at: only) }
        try FileManager.default.createDirectory(at: only, withIntermediateDirectories: true)
        for f in ["tuning.json", "adapters.safetensors"] {
            try FileManager.default.copyItem(at: ck.appendingPathComponent(f), to: only.appendingPathComponent(f))
        }
        let base = RepoFixtures.root.appendingPathComponent("examples/tuning/tiny-esm-mlm").path
        let tuned = try ModelSource.loadMaskedLM(base, adapters: only.path)
        let full = try EsmForMaskedLM.load(directory: ck)
        let tokens = IndexTensor(shape: [1, 12], values: [0, 20, 15, 7, 4, 5, 10, 8, 9, 16, 11, 2] as [Int32])
        let a = withNoGrad { tuned.logits(tokens) }.toArray(), b = withNoGrad { full.logits(tokens) }.toArray()
        let plain = withNoGrad { try! EsmForMaskedLM.load(directory: URL(fileURLWithPath: base)).logits(tokens) }.toArray()
        #expect(a == b, "base + adapter-only checkpoint differs from the full checkpoint")
        #expect(a != plain, "the adapters changed nothing")
        // Training further from it: the LoRA layout and values come from the checkpoint, only LoRA (and the head) train.
        let t = try build("tune-lora-ss.yaml", ["model.tuning={kind: lora, weights: \(only.path)}"])
        let names = t.parameters.map(\.name).filter { !$0.hasPrefix("heads.") }
        let saved = try SafeTensorsFile(url: only.appendingPathComponent("adapters.safetensors")).tensors(copy: true)
        #expect(names.count == saved.count && names.allSatisfy { $0.contains(".lora_") }, "trainable \(names) vs saved \(saved.keys.sorted())")
        let model = (t.encoder as! EsmEncoder).model
        let state = model.stateDict()
        for (k, v) in saved { #expect(state[k]?.toArray() == v.toArray(), "\(k) not loaded") }
        #expect(message { _ = try build("tune-lora-ss.yaml", ["model.tuning={kind: lora, weights: \(only.path), rank: 4}"]) }
            .contains("model.tuning.rank: comes from the checkpoint given as 'weights'"))
        try FileManager.default.removeItem(at: only.appendingPathComponent("adapters.safetensors"))
        #expect(message { _ = try ModelSource.loadMaskedLM(base, adapters: only.path) }.contains("adapters.safetensors"))
    }

    @Test("lora checkpoint: adapters + tuning.json, frozen base weights, reloads to the same outputs")
    func loraCheckpoint() throws {
        let steps = 6
        let (t, run) = try train("tune-lora-ss.yaml", steps: steps, extra: ["optimizer.lr=0.01"])
        defer { try? FileManager.default.removeItem(at: run) }
        let ck = run.appendingPathComponent("checkpoint-\(steps)")
        for f in ["adapters.safetensors", "tuning.json", "model.safetensors", "heads.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: ck.appendingPathComponent(f).path), "checkpoint lacks \(f)")
        }
        // The base weights are the ones the run started from.
        let base = try SafeTensorsFile(url: RepoFixtures.root.appendingPathComponent("examples/tuning/tiny-esm-mlm/model.safetensors"))
        let saved = try SafeTensorsFile(url: ck.appendingPathComponent("model.safetensors"))
        let names = Set(try saved.tensors(copy: true).keys)
        var compared = 0
        for (k, v) in try base.tensors(copy: true) where names.contains(k) {
            let w = try saved.tensor(k).toArray()
            #expect(w == v.toArray(), "\(k) changed")
            compared += 1
        }
        #expect(compared > 20)
        // LoRA B moved away from its zero init.
        let adapters = try SafeTensorsFile(url: ck.appendingPathComponent("adapters.safetensors")).tensors(copy: true)
        #expect(adapters.contains { $0.key.contains("lora_B") && $0.value.toArray().contains { $0 != 0 } }, "\(adapters.keys.sorted())")
        // Loading the checkpoint directory reproduces the trained model.
        let loaded = try EsmForMaskedLM.load(directory: ck)
        let trained = (t.encoder as! EsmEncoder).model
        trained.train(false)
        let tokens = IndexTensor(shape: [1, 12], values: [0, 20, 15, 7, 4, 5, 10, 8, 9, 16, 11, 2] as [Int32])
        let a = withNoGrad { trained.logits(tokens) }.toArray(), b = withNoGrad { loaded.logits(tokens) }.toArray()
        #expect(maxRel(a, b) < 1e-5, "reloaded logits differ: \(maxRel(a, b))")
        // plm evaluate's path (a fresh trainer from config.resolved.yaml: LoRA attached by the
        // recipe, then the checkpoint's adapters loaded) reproduces the validation logged at that step.
        let logged = try #require(try lines(run, "validation").first { $0["step"] as? Int == steps }?["loss"] as? Double)
        let again = try Trainer.evaluating(runDirectory: run, registry: testRegistry(), log: { _ in })
            .evaluate(checkpoint: ck, split: .validation)
        #expect(abs((again?["loss"] ?? .nan) - logged) <= 1e-12 * logged, "evaluate \(again?["loss"] ?? .nan) vs logged \(logged)")
    }
}

/// The parts of summary.json the test-split test reads.
private struct SummaryProbe: Decodable {
    let test: [String: Double]?
    let test_checkpoint: String?
}

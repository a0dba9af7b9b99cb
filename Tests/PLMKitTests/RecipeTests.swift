import ContrastiveStructure
import DynamicsRegression
import Downstream
import Foundation
import GraphFusion
import MaskedLM
import Tuning
import PLMKit
import Testing

func testRegistry() -> PluginRegistry {
    let r = PluginRegistry()
    try! r.registerCoreBuiltins()
    try! r.registerMaskedLM()
    try! r.registerTuning()
    try! r.registerContrastiveStructure()
    try! r.registerDynamicsRegression()
    try! r.registerDownstream()
    try! r.registerGraphFusion()
    return r
}

/// Writes `text` as a recipe in a fresh folder and returns its path.
func writeRecipe(_ text: String, name: String = "r.yaml") throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-recipe-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let p = dir.appendingPathComponent(name).path
    try text.write(toFile: p, atomically: true, encoding: .utf8)
    return p
}

let quickstartFasta = RepoFixtures.root.appendingPathComponent("examples/quickstart/sequences.fasta").path

func tinyRecipe(steps: Int = 6, extra: String = "") -> String {
    """
    seed: 7
    model:
      encoder: {kind: esm2, layers: 1, hidden_size: 32, heads: 2, dropout: 0.1, attention_dropout: 0.1}
    targets:
      - {kind: mlm}
    data:
      sources:
        - {name: sp, kind: fasta, path: \(quickstartFasta), max_records: 64, validation_fraction: 0.2}
      max_length: 48
    optimizer: {kind: adamw, lr: 3.0e-3}
    schedule: {kind: warmup_linear, warmup_steps: 2}
    training:
      steps: \(steps)
      batch_size: 4
      grad_accumulation: 2
      clip: {value: 0.5}
      log_every: 1
      eval_every: 3
      checkpoint_every: 2
      keep_checkpoints: 5
    \(extra)
    """
}

@Suite("Recipes")
struct RecipeTests {
    func loadError(_ text: String, overrides: [String] = []) throws -> RecipeError {
        let p = try writeRecipe(text)
        do {
            _ = try RecipeLoader.load(path: p, overrides: overrides, registry: testRegistry())
        } catch let e as RecipeError {
            #expect(e.file == p)
            return e
        }
        throw RecipeError(file: p, keyPath: "", "no error was raised")
    }

    @Test("a valid recipe loads, with defaults and paths resolved")
    func loads() throws {
        let p = try writeRecipe(tinyRecipe().replacingOccurrences(of: quickstartFasta, with: "data/seqs.fasta"))
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        #expect(r.seed == 7 && r.training.steps == 6 && r.training.gradAccumulation == 2)
        #expect(r.training.clip?.value == 0.5 && r.training.clip?.norm == nil)
        let src = try #require(r.data.sources[0].config as? FastaSourceConfig)
        #expect(src.path.raw == "data/seqs.fasta")
        #expect(src.path.path == URL(fileURLWithPath: p).deletingLastPathComponent().appendingPathComponent("data/seqs.fasta").standardizedFileURL.path)
        let yaml = try RecipeLoader.resolvedYAML(r)
        #expect(yaml.contains("kind: mlm") && yaml.contains("probability: 0.15") && yaml.contains("weight_decay: 0.01"), "\(yaml)")
        #expect(yaml.contains("lr: 0.003") && yaml.contains("grad_accumulation: 2"))
    }

    @Test("unknown key: key path, line and a suggestion")
    func unknownKey() throws {
        let e = try loadError(tinyRecipe().replacingOccurrences(of: "  batch_size: 4", with: "  batch_sise: 4\n  batch_size: 4"))
        #expect(e.keyPath == "training.batch_sise")
        #expect(e.line == 14)   // 1-based
        #expect(e.message.contains("did you mean 'batch_size'"))
    }

    @Test("unknown key inside a plugin section")
    func unknownPluginKey() throws {
        let e = try loadError(tinyRecipe().replacingOccurrences(of: "{kind: mlm}", with: "{kind: mlm, probabilty: 0.2}"))
        #expect(e.keyPath == "targets.0.probabilty")
        #expect(e.message.contains("did you mean 'probability'"))
    }

    @Test("wrong type and missing key name the key and line")
    func typesAndMissing() throws {
        let t = try loadError(tinyRecipe().replacingOccurrences(of: "steps: 6", with: "steps: six"))
        #expect(t.keyPath == "training.steps" && t.message.contains("expected an integer, got 'six'") && t.line == 13)
        let m = try loadError(tinyRecipe().replacingOccurrences(of: "optimizer: {kind: adamw, lr: 3.0e-3}", with: "optimizer: {kind: adamw}"))
        #expect(m.keyPath == "optimizer" && m.message.contains("missing required key 'lr'"))
    }

    @Test("unknown plugin kind lists the registered ones")
    func unknownKind() throws {
        let e = try loadError(tinyRecipe().replacingOccurrences(of: "{kind: mlm}", with: "{kind: mlmm}"))
        #expect(e.keyPath == "targets.0.kind" && e.line == 5)
        #expect(e.message.contains("unknown target kind 'mlmm'"))
        let registered = e.message.components(separatedBy: "registered: ").last?.components(separatedBy: ", ") ?? []
        #expect(registered.contains("mlm"), "\(e.message)")
    }

    @Test("semantic checks: values out of range")
    func semantic() throws {
        let e = try loadError(tinyRecipe().replacingOccurrences(of: "grad_accumulation: 2", with: "grad_accumulation: 0"))
        #expect(e.keyPath == "training.grad_accumulation")
        let v = try loadError(tinyRecipe().replacingOccurrences(of: "validation_fraction: 0.2", with: "validation_fraction: 1.5"))
        #expect(v.keyPath == "data.sources.0.validation_fraction")
        let w = try loadError(tinyRecipe().replacingOccurrences(of: "validation_fraction: 0.2", with: "weight: -1"))
        #expect(w.keyPath == "data.sources.0.weight" && "\(w)".contains(">= 0"), "\(w)")
        let n = try loadError(tinyRecipe().replacingOccurrences(of: "name: sp,", with: "name: '',"))
        #expect(n.keyPath == "data.sources.0.name", "\(n)")
    }

    @Test("every built-in source kind reads name / weight / group / validation_fraction the same way",
          arguments: ["fasta", "hdf5_features", "structures", "labelled_csv", "labelled_structures"])
    func commonSourceKeys(_ kind: String) throws {
        var extra = ""
        if kind == "labelled_structures" { extra = ", labels_path: l.csv, classes: [a]" }
        let source = "{name: s1, kind: \(kind), path: x, weight: 0.5, group: g, validation_fraction: 0.25\(extra)}"
        let p = try writeRecipe("""
        model: {encoder: {kind: esm2, layers: 1, hidden_size: 8, heads: 2}}
        targets: [{kind: mlm}]
        data: {sources: [\(source)]}
        optimizer: {kind: adamw, lr: 1.0e-3}
        training: {steps: 1, batch_size: 1}
        """)
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let c = try #require(r.data.sources[0].config as? DataSourcePluginConfig)
        #expect(c.name == "s1" && c.weight == 0.5 && c.group == "g" && c.validationFraction == 0.25)
        let bad = try loadError(try String(contentsOfFile: p, encoding: .utf8).replacingOccurrences(of: "weight: 0.5", with: "weight: -2"))
        #expect(bad.keyPath == "data.sources.0.weight", "\(kind): \(bad)")
    }

    @Test("--set overrides keep types, reach list items and are checked like the file")
    func overrides() throws {
        let p = try writeRecipe(tinyRecipe())
        let (r, _) = try RecipeLoader.load(path: p, overrides: ["training.steps=11", "data.sources.0.max_records=5",
                                                                  "optimizer.betas=[0.8, 0.9]"], registry: testRegistry())
        #expect(r.training.steps == 11)
        #expect((r.data.sources[0].config as? FastaSourceConfig)?.maxRecords == 5)
        #expect((r.optimizer.config as? AdamWConfig)?.betas == [0.8, 0.9])
        let typo = try loadError(tinyRecipe(), overrides: ["training.stepz=3"])
        #expect(typo.keyPath == "training.stepz" && typo.message.contains("did you mean 'steps'"))
        let bad = try loadError(tinyRecipe(), overrides: ["training.steps=many"])
        #expect(bad.keyPath == "training.steps")
        #expect(throws: RecipeError.self) { try RecipeLoader.load(path: p, overrides: ["data.sources.3.name=x"], registry: testRegistry()) }
    }

    @Test("the bundled recipes validate")
    func bundled() throws {
        let dir = RepoFixtures.root.appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.contains("quickstart.yaml"))
        for f in files {
            _ = try RecipeLoader.load(path: dir.appendingPathComponent(f).path, registry: testRegistry())
        }
    }
}

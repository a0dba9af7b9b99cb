import Foundation
import PLMKit
import Testing

/// `role: validation | test | train` on a data source: a whole file as a split.
@Suite("Data source roles", .serialized)
struct SourceRoleTests {
    static let tuning = RepoFixtures.root.appendingPathComponent("examples/tuning")

    func metricLines(_ run: URL, _ split: String) throws -> [[String: Any]] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == split }
    }

    @Test("a validation file: MLM trains on one source only and validates on exactly the other")
    func validationFile() throws {
        let p = try writeRecipe("""
        seed: 3
        model: {encoder: {kind: esm2, layers: 1, hidden_size: 32, heads: 2}}
        targets: [{kind: mlm}]
        data:
          sources:
            - {name: tr, kind: fasta, path: \(quickstartFasta), max_records: 48}
            - {name: va, kind: fasta, path: \(Self.tuning.appendingPathComponent("swissprot.fasta").path), max_records: 10, role: validation}
          max_length: 48
        optimizer: {kind: adamw, lr: 1.0e-3}
        training: {steps: 4, batch_size: 4, log_every: 1, eval_every: 2}
        """)
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        #expect(r.data.sources[1].role == .validation && r.data.sources[0].role == nil)
        #expect(try RecipeLoader.resolvedYAML(r).contains("role: validation"))
        let run = URL(fileURLWithPath: RepoFixtures.temp("role-val"))
        defer { try? FileManager.default.removeItem(at: run) }
        let s = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run()
        #expect(s.steps == 4)
        let train = try metricLines(run, "train"), val = try metricLines(run, "validation")
        #expect(train.count == 4 && train.allSatisfy { $0["mlm/tr/loss"] is Double && $0["mlm/va/loss"] == nil }, "\(train.first ?? [:])")
        #expect(val.count == 2 && val.allSatisfy { $0["mlm/va/loss"] is Double && $0["mlm/tr/loss"] == nil }, "\(val.first ?? [:])")
    }

    @Test("a validation-only source gets its baselines from the training sources of the same target")
    func baselineFromTrainingSources() throws {
        let csv = Self.tuning.appendingPathComponent("disorder.csv").path
        let p = try writeRecipe("""
        seed: 3
        model: {encoder: {kind: esm2, weights: \(Self.tuning.appendingPathComponent("tiny-esm-mlm").path)}, tuning: {kind: frozen}}
        targets: [{kind: classification, key: disorder, classes: 2}]
        data:
          sources:
            - {name: tr, kind: labelled_csv, path: \(csv), split: train, labels: [{key: disorder, column: disorder, type: class, classes: [idr, folded]}]}
            - {name: va, kind: labelled_csv, path: \(csv), split: valid, role: validation, labels: [{key: disorder, column: disorder, type: class, classes: [idr, folded]}]}
          max_length: 64
        optimizer: {kind: adamw, lr: 1.0e-3}
        training: {steps: 2, batch_size: 8, log_every: 1, eval_every: 2}
        """)
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let run = URL(fileURLWithPath: RepoFixtures.temp("role-base"))
        defer { try? FileManager.default.removeItem(at: run) }
        let s = try Trainer(recipe: r, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run()
        let v = try #require(s.validation)
        // disorder.csv: 73 valid rows; the training rows' majority class and its accuracy on them.
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        let trainRows = rows.filter { $0[3] == "train" }, validRows = rows.filter { $0[3] == "valid" }
        let counts = ["idr", "folded"].map { c in trainRows.filter { $0[2] == c }.count }
        let majority = counts[1] > counts[0] ? 1 : 0
        #expect(v["classification/va/items"] == Double(validRows.count))
        #expect(v["classification/va/baseline_class"] == Double(majority))
        let acc = Double(validRows.filter { $0[2] == ["idr", "folded"][majority] }.count) / Double(validRows.count)
        #expect(abs((v["classification/va/baseline_accuracy"] ?? -1) - acc) < 1e-12)
    }

    @Test("role checks: a bad value names its key; only data sources have one; no training source is an error")
    func checks() throws {
        func load(_ sources: String, targets: String = "[{kind: mlm}]") throws -> Recipe {
            let p = try writeRecipe("""
            model: {encoder: {kind: esm2, layers: 1, hidden_size: 8, heads: 2}}
            targets: \(targets)
            data: {sources: \(sources)}
            optimizer: {kind: adamw, lr: 1.0e-3}
            training: {steps: 1, batch_size: 1}
            """)
            return try RecipeLoader.load(path: p, registry: testRegistry()).recipe
        }
        do {
            _ = try load("[{name: a, kind: fasta, path: \(quickstartFasta), role: dev}]")
            Issue.record("role: dev was accepted")
        } catch let e as RecipeError { #expect(e.keyPath == "data.sources.0.role" && "\(e)".contains("train, validation or test"), "\(e)") }
        do {
            _ = try load("[{name: a, kind: fasta, path: \(quickstartFasta)}]", targets: "[{kind: mlm, role: validation}]")
            Issue.record("a target's role was accepted")
        } catch let e as RecipeError { #expect(e.keyPath == "targets.0.role", "\(e)") }
        let onlyVal = try load("[{name: a, kind: fasta, path: \(quickstartFasta), max_records: 4, role: validation}]")
        let run = URL(fileURLWithPath: RepoFixtures.temp("role-none"))
        defer { try? FileManager.default.removeItem(at: run) }
        do {
            _ = try Trainer(recipe: onlyVal, runDirectory: run, resume: false, showProgress: false, log: { _ in })
            Issue.record("a run without training examples was accepted")
        } catch { #expect("\(error)".contains("no data source has training examples"), "\(error)") }
    }
}

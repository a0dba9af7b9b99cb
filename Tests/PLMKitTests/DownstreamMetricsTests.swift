import Downstream
import Foundation
import PLMKit
import Testing

@Suite("Downstream metrics and labelled data")
struct DownstreamMetricsTests {
    typealias M = DownstreamMetrics

    @Test("hand-computed values")
    func handComputed() throws {
        #expect(M.accuracy(predicted: [0, 2, 2, 1], truth: [0, 1, 2, 1]) == 0.75)
        // class 0: tp 1, fn 1 -> F1 2/3; class 1: tp 2, fp 1 -> 4/5
        #expect(abs(M.macroF1(predicted: [0, 1, 1, 1], truth: [0, 0, 1, 1])! - (2.0 / 3 + 0.8) / 2) < 1e-12)
        #expect(M.auroc(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true]) == 0.75)
        #expect(M.auroc(scores: [0.1, 0.2], labels: [true, true]) == nil)
        #expect(M.ranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2])
        #expect(abs(M.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])! - 0.8207826816681233) < 1e-12)  // SciPy docs example
        #expect(abs(M.pearson([1, 2, 3], [2, 4, 7])! - 0.9933992677987828) < 1e-12)
        #expect(M.pearson([1, 1, 1], [1, 2, 3]) == nil)
        // Fmax: t in (0.6, 0.7] predicts {0} for protein 1 (P 1, R 1/2) and {1} for protein 2 (P 1, R 1): F = 6/7.
        let s: [[Double]] = [[0.9, 0.2], [0.6, 0.7]]
        #expect(abs(M.fmax(scores: s, labels: [[true, true], [false, true]])! - 6.0 / 7) < 1e-12)
        #expect(M.fmax(scores: s, labels: [[true, false], [false, true]]) == 1)
        #expect(M.fmax(scores: s, labels: [[false, false], [false, false]]) == nil)
    }

    struct Reference: Decodable {
        struct Cls: Decodable { var truth: [Int]; var predicted: [Int]; var accuracy: Double; var macro_f1: Double }
        struct Corr: Decodable { var x: [Double]; var y: [Double]; var pearson: Double; var spearman: Double }
        struct Bin: Decodable { var scores: [Double]; var labels: [Bool]; var auroc: Double }
        struct Multi: Decodable { var scores: [[Double]]; var labels: [[Bool]]; var fmax: Double; var macro_auroc: Double }
        struct OVR: Decodable { var probabilities: [[Double]]; var truth: [Int]; var auroc: Double }
        var classification: [Cls]
        var correlation: [Corr]
        var binary_auroc: [Bin]
        var multilabel: [Multi]
        var ovr_auroc: OVR
    }

    @Test("agree with scikit-learn / SciPy (scripts/reference/downstream/metrics_reference.py)")
    func reference() throws {
        let url = RepoFixtures.kit.appendingPathComponent("downstream/metrics.json")
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        func close(_ a: Double?, _ b: Double, _ what: String) {
            #expect(a != nil && abs(a! - b) < 1e-9, "\(what): \(String(describing: a)) vs reference \(b)")
        }
        for c in r.classification {
            close(M.accuracy(predicted: c.predicted, truth: c.truth), c.accuracy, "accuracy")
            close(M.macroF1(predicted: c.predicted, truth: c.truth), c.macro_f1, "macro_f1")
        }
        for c in r.correlation {
            close(M.pearson(c.x, c.y), c.pearson, "pearson")
            close(M.spearman(c.x, c.y), c.spearman, "spearman")
        }
        for c in r.binary_auroc { close(M.auroc(scores: c.scores, labels: c.labels), c.auroc, "auroc") }
        for c in r.multilabel {
            close(M.fmax(scores: c.scores, labels: c.labels), c.fmax, "fmax")
            close(M.macroAUROC(scores: c.scores, labels: c.labels), c.macro_auroc, "macro auroc")
        }
        let o = r.ovr_auroc
        let nc = o.probabilities[0].count
        close(M.macroAUROC(scores: o.probabilities, labels: o.truth.map { t in (0..<nc).map { $0 == t } }), o.auroc, "ovr auroc")
    }

    func source(_ yaml: String, files: [String: String]) throws -> DataSource {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (n, t) in files { try t.write(to: dir.appendingPathComponent(n), atomically: true, encoding: .utf8) }
        let recipe = """
        model: {encoder: {kind: esm2, layers: 1, hidden_size: 8, heads: 2}}
        targets: [{kind: mlm}]
        data:
          sources:
            - \(yaml)
        optimizer: {kind: adamw, lr: 1.0e-3}
        training: {steps: 1, batch_size: 1}
        """
        let p = dir.appendingPathComponent("r.yaml").path
        try recipe.write(toFile: p, atomically: true, encoding: .utf8)
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let c = r.data.sources[0].config as! DataSourcePluginConfig
        return try c.makeSource(BuildContext(seed: 1, recipeDirectory: dir, maxLength: 64))
    }

    static let csv = """
    id,sequence,ss,go,y,split
    a,MKVL,HHEC,"GO:1;GO:3",1.5,train
    b,ACDEF,CC-EE,,2,valid
    "c,1",GGH,EEE,GO:2,-0.25,test

    """

    @Test("labelled_csv: labels in extras / features, BOS/EOS -1, split selection, cropping keeps alignment")
    func labelledCSV() throws {
        let s = try source("""
        {name: t, kind: labelled_csv, path: t.csv, labels: [{key: go, column: go, type: multilabel}, {key: y, column: y, type: regression}],
               residue_labels: [{key: ss, column: ss, classes: HEC}]}
        """, files: ["t.csv": Self.csv])
        #expect(s.count == 3)
        let a = try s.example(at: 0), b = try s.example(at: 1), c = try s.example(at: 2)
        #expect(a.id == "a" && c.id == "c,1")
        #expect(a.extras["go"] == [1, 0, 1] && b.extras["go"] == [0, 0, 0] && c.extras["go"] == [0, 1, 0])
        #expect(a.extras["y"] == [1.5] && c.extras["y"] == [-0.25])
        #expect(a.features["ss"] == FeatureArray(shape: [6, 1], values: [-1, 0, 0, 1, 2, -1]))
        #expect(b.features["ss"]!.values == [-1, 2, 2, -1, 1, 1, -1])  // '-' ignored
        let cropped = b.cropped(start: 2, length: 2)  // residues D, E
        #expect(cropped.features["ss"]!.values == [-1, -1, 1, -1] && cropped.extras["go"] == [0, 0, 0])

        let tr = try source("{name: t, kind: labelled_csv, path: t.csv, split: [train, test], labels: [{column: go, type: multilabel, classes: ['GO:3', 'GO:1', 'GO:2']}]}",
                            files: ["t.csv": Self.csv])
        let first = try tr.example(at: 0)
        #expect(tr.count == 2 && first.extras["go"] == [1, 1, 0])
    }

    @Test("labelled_csv splits: split / holdout_split / test_split mark each row; overlaps are recipe errors at the key")
    func labelledSplits() throws {
        let all = try source("{name: t, kind: labelled_csv, path: t.csv, split: train, holdout_split: valid, test_split: test}",
                             files: ["t.csv": Self.csv])
        #expect(all.count == 3 && (0..<3).map { all.split(of: $0) } == [.train, .validation, .test])
        // test_split alone: the other rows go to the trainer's hash split (nil).
        let testOnly = try source("{name: t, kind: labelled_csv, path: t.csv, test_split: [test]}", files: ["t.csv": Self.csv])
        #expect(testOnly.count == 3 && (0..<3).map { testOnly.split(of: $0) } == [nil, nil, .test])
        // No split keys: every row, all nil.
        let plain = try source("{name: t, kind: labelled_csv, path: t.csv}", files: ["t.csv": Self.csv])
        #expect((0..<3).map { plain.split(of: $0) } == [nil, nil, nil])
        for (yaml, message) in [("split: [train, test], test_split: test", "`split` also serves"),
                                ("holdout_split: [valid, test], test_split: test", "`holdout_split` also serves")] {
            do {
                _ = try source("{name: t, kind: labelled_csv, path: t.csv, \(yaml)}", files: ["t.csv": Self.csv])
                Issue.record("expected a recipe error for \(yaml)")
            } catch {
                #expect("\(error)".contains("test_split") && "\(error)".contains(message), "\(error)")
            }
        }
    }

    @Test("labelled_csv: FASTA + TSV labels; errors name file and line")
    func fastaAndErrors() throws {
        let s = try source("{name: t, kind: labelled_csv, path: s.fasta, labels_path: l.tsv, labels: [{key: fold, column: label}]}",
                           files: ["s.fasta": ">p1\nMKV\n>p2\nACD\n", "l.tsv": "id\tlabel\np2\tbeta\np1\talpha\n"])
        let p1 = try s.example(at: 0), p2 = try s.example(at: 1)
        #expect(p1.extras["fold"] == [0] && p2.extras["fold"] == [1])
        do {
            _ = try source("{name: t, kind: labelled_csv, path: t.csv, residue_labels: [{column: ss, classes: HE}]}", files: ["t.csv": Self.csv])
            Issue.record("expected an error for the class C")
        } catch {
            #expect("\(error)".contains("t.csv:2") && "\(error)".contains("'C'"), "\(error)")
        }
        do {
            _ = try source("{name: t, kind: labelled_csv, path: t.csv, residue_labels: [{column: go}]}", files: ["t.csv": Self.csv])
            Issue.record("expected a length mismatch")
        } catch {
            #expect("\(error)".contains("labels for"), "\(error)")
        }
    }
}

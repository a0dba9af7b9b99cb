import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor
import Testing

/// Repository paths of shared fixtures (the ESM fixture models live in PLMNNTests).
enum RepoFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyRotary = root.appendingPathComponent("Tests/PLMNNTests/Fixtures/esm/tiny_rotary")
    static let kit = root.appendingPathComponent("Tests/PLMKitTests/Fixtures")
    static func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("plm-\(UUID().uuidString)-\(name)").path
    }
}

func maxRel(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
    var d = 0.0, m = 0.0
    for (x, y) in zip(a, b) { d = max(d, abs(Double(x) - Double(y))); m = max(m, abs(Double(y))) }
    return d / max(m, 1e-30)
}

@Suite("Embedder")
struct EmbedderTests {
    let records = try! FASTAReader.read(url: RepoFixtures.kit.appendingPathComponent("embed_input.fasta"))

    func model() throws -> EsmForMaskedLM { try ModelSource.loadMaskedLM(RepoFixtures.tinyRotary.path) }

    @Test("batched, padded output equals transformers run per record")
    func parity() throws {
        var o = EmbedOptions()
        o.perResidue = true; o.logits = true; o.contacts = true; o.maxTokens = 300; o.showProgress = false
        let out = RepoFixtures.temp("parity.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let s = try Embedder(model: try model(), options: o).run(records: records, output: out)
        #expect(s.written == 6 && s.skippedExisting == 0)
        let exp = try SafeTensorsFile(url: RepoFixtures.kit.appendingPathComponent("embed_expected.safetensors"))
        let f = try HDF5File.open(out)
        for r in records {
            let g = try f.group(r.id)
            #expect(try g.stringAttribute("sequence") == r.sequence)
            for ds in ["mean", "per_residue", "logits", "contacts"] {
                let a = try g.read(ds, as: Float.self)
                let ref = try exp.tensor("\(r.id).\(ds)")
                #expect(a.shape == ref.shape, "\(r.id).\(ds) shape")
                let e = maxRel(a.values, ref.toArray())
                #expect(e < 1e-4, "\(r.id).\(ds) rel \(e)")
            }
        }
    }

    @Test("a rerun skips complete records and embeds the rest")
    func resume() throws {
        var o = EmbedOptions(); o.showProgress = false
        let out = RepoFixtures.temp("resume.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let m = try model()
        let first = try Embedder(model: m, options: o).run(records: Array(records.prefix(2)), output: out)
        #expect(first.written == 2)
        let second = try Embedder(model: m, options: o).run(records: records, output: out)
        #expect(second.written == 4 && second.skippedExisting == 2)
        #expect(try HDF5File.open(out).childNames().count == 6)
        // An interrupt before the first batch writes nothing and says so.
        let flag = InterruptFlag(); flag.raise()
        var o2 = o; o2.overwrite = true
        let third = try Embedder(model: m, options: o2).run(records: records, output: out, interrupt: flag)
        #expect(third.interrupted && third.written == 0)
    }

    @Test("long sequences: error lists them, truncate marks them, window covers every residue")
    func longPolicies() throws {
        let m = try model()
        var o = EmbedOptions(); o.showProgress = false; o.maxResidues = 60; o.perResidue = true; o.contacts = true
        let out = RepoFixtures.temp("long.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        do {
            _ = try Embedder(model: m, options: o).run(records: records, output: out)
            Issue.record("records longer than 60 residues were accepted")
        } catch let e as EmbedError {
            guard case let .tooLong(ids, limit) = e else { Issue.record("wrong error \(e)"); return }
            #expect(limit == 60 && ids.count == records.filter { $0.sequence.count > 60 }.count)
            #expect(e.description.contains("--long truncate"))
        }
        o.longPolicy = .truncate; o.overwrite = true
        _ = try Embedder(model: m, options: o).run(records: records, output: out)
        let rec = records.first { $0.sequence.count > 60 }!
        do {  // scoped: an open handle would keep the next run from rewriting the file
            let g = try HDF5File.open(out).group(rec.id)
            #expect(try g.intAttribute("truncated_to") == 60)
            #expect(try g.read("per_residue", as: Float.self).shape == [60, 64])
        }

        o.longPolicy = .window
        _ = try Embedder(model: m, options: o).run(records: [rec], output: out)
        let w = try HDF5File.open(out).group(rec.id)
        let pr = try w.read("per_residue", as: Float.self)
        let n = rec.sequence.count
        #expect(pr.shape == [n, 64])
        #expect(pr.values.allSatisfy { $0.isFinite })
        let ct = try w.read("contacts", as: Float.self).values
        #expect(ct[0 * n + 1].isFinite)             // neighbours share a window
        #expect(ct[0 * n + (n - 1)].isNaN)          // the two ends never do
        // The first 30 residues lie only in the first window: they equal an
        // embedding of the first 60 residues alone.
        let head = FASTARecord(id: "head", sequence: String(rec.sequence.prefix(60)))
        var o3 = EmbedOptions(); o3.showProgress = false; o3.perResidue = true
        let out2 = RepoFixtures.temp("head.h5")
        defer { try? FileManager.default.removeItem(atPath: out2) }
        _ = try Embedder(model: m, options: o3).run(records: [head], output: out2)
        let hp = try HDF5File.open(out2).group("head").read("per_residue", as: Float.self).values
        #expect(maxRel(Array(pr.values[0..<(30 * 64)]), Array(hp[0..<(30 * 64)])) < 1e-5)
    }

    @Test("--layer picks the representation; out-of-range layers are refused")
    func layers() throws {
        let m = try model()
        let rec = records[2]
        var o = EmbedOptions(); o.showProgress = false; o.layer = 0; o.perResidue = true
        let out = RepoFixtures.temp("layer.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try Embedder(model: m, options: o).run(records: [rec], output: out)
        let got = try HDF5File.open(out).group(rec.id).read("per_residue", as: Float.self).values
        let ids = try Tokenizer().encode(rec)
        let h0 = withNoGrad { m.esm(IndexTensor(shape: [1, ids.count], values: ids), hiddenStates: true).hiddenStates[0] }
        #expect(maxRel(got, Array(h0.toArray()[64..<(64 * (ids.count - 1))])) < 1e-6)
        o.layer = 3
        #expect(throws: EmbedError.layerOutOfRange(layer: 3, layers: 2)) {
            try Embedder(model: m, options: o).run(records: [rec], output: out)
        }
    }

    @Test("batches respect the token budget, longest first")
    func batching() {
        let b = Embedder.batchesForTesting(lengths: [10, 50, 30, 50, 5], maxTokens: 100)
        // widths 50 (2 × 50 = 100 fits), then 30: 30 + 10 + 5 at width 30 → 90 fits
        #expect(b == [[1, 3], [2, 0, 4]])
        #expect(Embedder.batchesForTesting(lengths: [40, 40, 40], maxTokens: 100) == [[0, 1], [2]])
        #expect(Embedder.batchesForTesting(lengths: [300, 10], maxTokens: 100) == [[0], [1]])  // an over-budget sequence runs alone
    }
}

@Suite("Example cropping")
struct ExampleCroppingTests {
    @Test("a residue array [T, C] with C == T is cropped as residues, a pair array [T, T, C] as pairs")
    func squareResidueArray() {
        let t = 6
        let res = FeatureArray(shape: [t, t], values: (0..<(t * t)).map(Float.init))
        let pair = FeatureArray(shape: [t, t, 1], values: (0..<(t * t)).map(Float.init))
        let e = Example(id: "x", tokens: [0, 5, 6, 7, 8, 2], features: ["res": res, "pair": pair])
        let c = e.cropped(start: 1, length: 2)        // keeps tokens 0, 2, 3, 5
        #expect(c.tokens == [0, 6, 7, 2])
        #expect(c.features["res"]!.shape == [4, 6])
        #expect(Array(c.features["res"]!.values[6..<12]) == (12..<18).map(Float.init))   // row 2
        #expect(c.features["pair"]!.shape == [4, 4, 1])
        #expect(c.features["pair"]!.values == [0, 2, 3, 5, 12, 14, 15, 17, 18, 20, 21, 23, 30, 32, 33, 35])
    }
}

import Foundation
import PLMData
import Testing

/// `plm embed` with a PLMKit run as the model: structure-aware encoders
/// through their recipe, and run directories resolved to a checkpoint.
@Suite("plm embed with a run")
struct EmbedRunCLITests {
    static let structures = CLIFixtures.root.appendingPathComponent("examples/splm/structures")

    @Test("a 3dprotlm run embeds structures: protein = pooled ESM ‖ summed graph; FASTA, --logits and an existing output are clear errors")
    func fusionRun() throws {
        let run = CLIFixtures.temp("fusion-run"), out = CLIFixtures.temp("fusion.h5")
        defer { for p in [run, out] { try? FileManager.default.removeItem(atPath: p) } }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/3dprotlm.yaml").path
        let t = try runPLM(["train", recipe, "--set", "model.encoder.graph_dim=16", "--set", "targets.0.hidden=32", "--set", "targets.0.output=16",
                            "--set", "data.max_length=64", "--set", "training.steps=2", "--set", "training.batch_size=4", "--out", run, "--quiet"])
        #expect(t.status == 0, "stderr: \(t.stderr)")

        let ubi = Self.structures.appendingPathComponent("1UBI.pdb").path
        let e = try runPLM(["embed", "--model", run, "--structures", ubi, "--chain", "A", "--per-residue", "--max-length", "100",
                            "--out", out, "--quiet"])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        #expect(e.stderr.contains("embedded 1 protein(s) with fusion (checkpoint-2, protein feature 96)"), "\(e.stderr)")
        do {   // every object from the file released before the next command reopens it
        let f = try HDF5File.open(out)
        #expect(try f.childNames() == ["1UBI_A"])
        let g = try f.group("1UBI_A")
        let protein = try g.read("protein", as: Float.self), residues = try g.read("per_residue", as: Float.self)
        let ubiquitin = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
        #expect(try g.stringAttribute("sequence") == ubiquitin)
        #expect(protein.shape == [96] && residues.shape == [76, 96])
        // tiny-esm d = 64: the first 64 entries are the mean of the residues' ESM columns,
        // the other 32 the sum of their graph columns.
        for c in [0, 17, 63, 64, 80, 95] {
            var acc = 0.0
            for r in 0..<76 { acc += Double(residues.values[r * 96 + c]) }
            let want = c < 64 ? acc / 76 : acc
            #expect(abs(Double(protein.values[c]) - want) <= 1e-4 * max(1, abs(want)), "column \(c): \(protein.values[c]) vs \(want)")
        }
        }

        // Rerunning continues the file: complete groups are skipped, new ones added.
        let again = try runPLM(["embed", "--model", run, "--structures", Self.structures.path, "--out", out, "--quiet"])
        #expect(again.status == 0 && again.stderr.contains("embedded 10 protein(s)") && again.stderr.contains("1 already present were skipped"),
                "\(again.stderr)")
        let all = try HDF5File.open(out)
        let names = try all.childNames()
        #expect(names.count == 11, "\(names)")
        #expect(try all.group("1UBI_A").read("per_residue", as: Float.self).shape == [76, 96])
        all.close()
        let fasta = try CLIFixtures.write(">p\nMKTAYIAKQRQISFVKSHFSRQ\n", "p.fasta")
        defer { try? FileManager.default.removeItem(atPath: fasta) }
        let seqOnly = try runPLM(["embed", "--model", run, "--fasta", fasta, "--out", out + ".fasta.h5", "--quiet"])
        #expect(seqOnly.status != 0 && seqOnly.stderr.contains("use --structures") && seqOnly.stderr.contains("residue graph (fusion / residue_graph encoder): example 'p' has no CA coordinates"), "\(seqOnly.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + ".fasta.h5"))
        let logits = try runPLM(["embed", "--model", run, "--structures", ubi, "--logits", "--out", out, "--overwrite", "--quiet"])
        #expect(logits.status != 0 && logits.stderr.contains("--logits need an ESM-2 model"), "\(logits.stderr)")
        let plain = try runPLM(["embed", "--model", CLIFixtures.tinyRotary, "--structures", ubi, "--out", out, "--overwrite", "--quiet"])
        #expect(plain.status != 0 && plain.stderr.contains("PLMKit run directory"), "\(plain.stderr)")
    }

    @Test("an ESM-2 run directory as --model means its newest checkpoint (best/ when it validated)")
    func esmRunDirectory() throws {
        let run = CLIFixtures.temp("qs-run"), a = CLIFixtures.temp("a.h5"), b = CLIFixtures.temp("b.h5")
        defer { for p in [run, a, b] { try? FileManager.default.removeItem(atPath: p) } }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/quickstart.yaml").path
        let t = try runPLM(["train", recipe, "--set", "training.steps=4", "--set", "training.eval_every=100000",
                            "--set", "training.checkpoint_every=2", "--out", run, "--quiet"])
        #expect(t.status == 0, "stderr: \(t.stderr)")
        let fasta = try CLIFixtures.write(">p\nMKTAYIAKQRQISFVKSHFSRQ\n>q\nGSHMLEDPVDAFQ\n", "pq.fasta")
        defer { try? FileManager.default.removeItem(atPath: fasta) }
        let viaRun = try runPLM(["embed", "--model", run, "--fasta", fasta, "--out", a, "--quiet"])
        let viaCheckpoint = try runPLM(["embed", "--model", run + "/checkpoint-4", "--fasta", fasta, "--out", b, "--quiet"])
        #expect(viaRun.status == 0 && viaCheckpoint.status == 0, "\(viaRun.stderr) \(viaCheckpoint.stderr)")
        let fa = try HDF5File.open(a), fb = try HDF5File.open(b)
        for id in ["p", "q"] {
            #expect(try fa.group(id).read("mean", as: Float.self) == fb.group(id).read("mean", as: Float.self))
        }
        fb.close()   // the child rewrites b: our open file would hold its lock
        let older = try runPLM(["embed", "--model", run + "/checkpoint-2", "--fasta", fasta, "--out", b, "--overwrite", "--quiet"])
        #expect(older.status == 0, "\(older.stderr)")
        let fo = try HDF5File.open(b)
        #expect(try fo.group("p").read("mean", as: Float.self) != fa.group("p").read("mean", as: Float.self))
    }
}

import Foundation
import Testing

@Suite("plm train / plm recipe")
struct TrainCLITests {
    static let quickstart = CLIFixtures.root.appendingPathComponent("recipes/quickstart.yaml").path

    @Test("the quickstart recipe, shortened, trains and writes the run directory")
    func quickstart() throws {
        let out = CLIFixtures.temp("qs")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try runPLM(["train", Self.quickstart, "--set", "training.steps=12", "--set", "training.eval_every=6",
                            "--set", "training.checkpoint_every=6", "--set", "training.log_every=3", "--out", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("trained 12 steps"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        #expect(summary["steps"] as? Int == 12)
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 + 2)   // 4 train lines (every 3 steps) + 2 validation lines
        let resumed = try runPLM(["train", Self.quickstart, "--set", "training.steps=15", "--resume", out, "--quiet"])
        #expect(resumed.status == 0 && resumed.stdout.contains("trained 15 steps"), "stderr: \(resumed.stderr)")
        // the checkpoint is a model directory for plm embed
        let h5 = out + "/e.h5"
        let fasta = try CLIFixtures.write(">a\nMKTAYIAKQRQISFVKSHFSRQ\n", "a.fasta")
        let e = try runPLM(["embed", "--model", out + "/checkpoint-15", "--fasta", fasta, "--out", h5, "--quiet"])
        #expect(e.status == 0, "stderr: \(e.stderr)")
    }

    @Test("recipe validate and show")
    func validateShow() throws {
        let v = try runPLM(["recipe", "validate", Self.quickstart])
        #expect(v.status == 0 && v.stdout.contains("ok"))
        let s = try runPLM(["recipe", "show", Self.quickstart, "--set", "training.steps=5"])
        #expect(s.status == 0 && s.stdout.contains("steps: 5") && s.stdout.contains("grad_accumulation: 1"))
    }

    /// One bad recipe: non-zero exit, exactly one `error:` line naming what is wrong.
    func expectOneError(_ args: [String], contains needles: [String]) throws {
        let r = try runPLM(args)
        #expect(r.status != 0)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "stderr: \(r.stderr)")
        for n in needles { #expect(errors.first?.contains(n) == true, "'\(n)' missing from: \(r.stderr)") }
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test("bad recipes: typo, wrong type, missing file, unknown kind")
    func badRecipes() throws {
        let text = try String(contentsOfFile: Self.quickstart, encoding: .utf8)
        let dir = CLIFixtures.root.appendingPathComponent("recipes").path
        func variant(_ from: String, _ to: String) throws -> String {
            let p = dir + "/.test-\(UUID().uuidString).yaml"   // beside the original so relative paths resolve
            try text.replacingOccurrences(of: from, with: to).write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let typo = try variant("  batch_size: 16", "  batchsize: 16\n  batch_size: 16")
        let type = try variant("steps: 80", "steps: eighty")
        let missing = try variant("sequences.fasta", "no-such-file.fasta")
        let kind = try variant("{kind: mlm}", "{kind: mlmx}")
        defer { for p in [typo, type, missing, kind] { try? FileManager.default.removeItem(atPath: p) } }
        try expectOneError(["recipe", "validate", typo], contains: ["training.batchsize", "did you mean 'batch_size'", ":"])
        try expectOneError(["train", type, "--out", CLIFixtures.temp("t")], contains: ["training.steps", "expected an integer"])
        try expectOneError(["train", missing, "--out", CLIFixtures.temp("m"), "--quiet"], contains: ["no-such-file.fasta"])
        try expectOneError(["recipe", "validate", kind], contains: ["targets.0.kind", "unknown target kind 'mlmx'"])
        try expectOneError(["recipe", "validate", "/nonexistent/recipe.yaml"], contains: ["/nonexistent/recipe.yaml"])
    }
}

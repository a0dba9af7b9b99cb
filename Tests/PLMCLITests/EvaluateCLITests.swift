import Foundation
import Testing

@Suite("plm evaluate")
struct EvaluateCLITests {
    @Test("a tuning run's test split: train scores it with best/, plm evaluate prints the same numbers; bad arguments are clear errors")
    func evaluate() throws {
        let out = CLIFixtures.temp("eval")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/tune-topk-class.yaml").path
        let t = try runPLM(["train", recipe, "--set", "training.steps=6", "--set", "training.eval_every=3",
                            "--set", "training.checkpoint_every=3", "--out", out, "--quiet"])
        #expect(t.status == 0, "stderr: \(t.stderr)")
        #expect(t.stderr.contains("test (best, step "), "stderr: \(t.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any]
        let test = try #require(summary?["test"] as? [String: Double])
        #expect(summary?["test_checkpoint"] as? String == "best")

        let e = try runPLM(["evaluate", out, "--json"])   // default: best/, test split
        #expect(e.status == 0, "stderr: \(e.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        #expect(obj["split"] as? String == "test" && (obj["checkpoint"] as? String)?.hasSuffix("/best") == true)
        let metrics = try #require(obj["metrics"] as? [String: Double])
        #expect(metrics == test)
        #expect(metrics["classification/disorder/items"] == 63)

        let text = try runPLM(["evaluate", out, "--checkpoint", "checkpoint-3", "--split", "validation"])
        #expect(text.status == 0 && text.stdout.hasPrefix("validation split, checkpoint-3 (step 3)"), "\(text.stdout) \(text.stderr)")
        #expect(text.stdout.contains("classification/disorder/accuracy"))

        // --set: the same model on another file as the test split (ss3.csv's valid rows, via role: test).
        let ss3 = CLIFixtures.root.appendingPathComponent("examples/tuning/ss3.csv").path
        let ext = try runPLM(["evaluate", out, "--json", "--set",
                              "data.sources=[{name: fold, kind: labelled_csv, path: \(ss3), split: valid, role: test, labels: [{key: helix_fraction, column: helix_fraction, type: regression}]}]"])
        #expect(ext.status == 0, "\(ext.stderr)")
        let em = try #require((try JSONSerialization.jsonObject(with: Data(ext.stdout.utf8)) as? [String: Any])?["metrics"] as? [String: Double])
        #expect(em["regression/items"] == 4 && !em.keys.contains { $0.hasPrefix("classification") }, "\(em)")   // one source: no source in the keys
        let missing = try runPLM(["evaluate", out, "--checkpoint", "checkpoint-99"])
        #expect(missing.status != 0 && missing.stderr.contains("no checkpoint 'checkpoint-99'") && missing.stderr.contains("best"), "\(missing.stderr)")
        let badSplit = try runPLM(["evaluate", out, "--split", "dev"])
        #expect(badSplit.status != 0 && badSplit.stderr.contains("--split must be"), "\(badSplit.stderr)")
        let notRun = try runPLM(["evaluate", CLIFixtures.root.appendingPathComponent("recipes").path])
        #expect(notRun.status != 0 && notRun.stderr.contains("not a run directory (no config.resolved.yaml)"), "\(notRun.stderr)")
    }
}

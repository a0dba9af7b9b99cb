import Foundation
import Testing

@Suite("Ctrl-C during plm train")
struct InterruptCLITests {
    @Test("SIGINT, SIGTERM and SIGUSR1 save a checkpoint, exit 130, and the run resumes to the end",
          arguments: [SIGINT, SIGTERM, SIGUSR1])
    func signals(_ sig: Int32) throws {
        let out = CLIFixtures.temp("signal-\(sig)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/quickstart.yaml").path
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("plm")
        p.arguments = ["train", recipe, "--set", "training.steps=100000", "--set", "training.eval_every=100000",
                       "--set", "training.log_every=1", "--out", out, "--quiet"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        // Wait until training has made progress (a metrics line per step); a
        // loaded CI machine may be slow, so the bound is generous.
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline {
            if let t = try? String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8), t.contains("\"step\":2") { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 130, "stderr: \(stderr)")
        #expect(stderr.contains("--resume") && stderr.contains("finishing the current step and saving"), "stderr: \(stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        let saved = names.compactMap { $0.hasPrefix("checkpoint-") ? Int($0.dropFirst(11)) : nil }
        #expect(saved.count == 1 && saved[0] >= 2, "checkpoints: \(names)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        #expect(summary["interrupted"] as? Bool == true)
        let r = try runPLM(["train", recipe, "--set", "training.steps=\(saved[0] + 3)", "--resume", out, "--quiet"])
        #expect(r.status == 0 && r.stdout.contains("trained \(saved[0] + 3) steps"), "stderr: \(r.stderr)")
    }
}

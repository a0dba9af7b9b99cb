import Foundation
import Testing

@Suite("examples/custom-target")
struct CustomTargetExampleTests {
    @Test("the example registers its own target kind and trains; the loss falls")
    func runs() throws {
        let bin = productsDirectory().appendingPathComponent("custom-target-example")
        let out = CLIFixtures.temp("hydropathy")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = bin
        p.arguments = [CLIFixtures.root.appendingPathComponent("examples/custom-target/recipe.yaml").path, "--out", out]
        let pipe = Pipe(); p.standardOutput = pipe; p.standardError = Pipe()
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "output: \(text)")
        #expect(text.contains("hydropathy run: 30 steps"))
        let losses = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == "train" }.compactMap { $0["hydropathy/loss"] as? Double }
        #expect(losses.count == 6)
        #expect(losses.last! < 0.7 * losses.first!, "hydropathy loss \(losses)")
    }
}

import Foundation
import PLMKit
import PLMNN
import PLMTensor
import Testing

@Suite("Trainer", .serialized)
struct TrainerTests {
    func tempRun(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("plm-run-\(UUID().uuidString)-\(name)")
    }

    func bytes(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// The comparison runs in a child process (an exit test): OpenBLAS's
    /// sgemm results depend on its thread count, a process-wide setting that
    /// tests running in parallel in this process change.
    @Test("2N steps straight equal N + resume + N, bit for bit (dropout, accumulation, clipping on)")
    func resumeBitExact() async throws {
        await #expect(processExitsWith: .success) {
            let ok = try resumeIsBitExact()
            exit(ok ? 0 : 1)
        }
        // The same scenario in this process must at least run and resume.
        let p = try writeRecipe(tinyRecipe(steps: 4))
        let (recipe, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let b = tempRun("resumed-smoke")
        defer { try? FileManager.default.removeItem(at: b) }
        _ = try Trainer(recipe: recipe, runDirectory: b, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 2)
        let s = try Trainer(recipe: recipe, runDirectory: b, resume: true, showProgress: false, log: { _ in }).run()
        #expect(s.steps == 4 && s.resumedFrom == 2)
        let lines = try String(contentsOf: b.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").filter { $0.contains("\"split\":\"train\"") }
        #expect(lines.count == 4)   // each step logged once across the two sessions
    }

    @Test("outputs: resolved config, metrics, checkpoints, best/, summary; loss goes down")
    func outputs() throws {
        let p = try writeRecipe(tinyRecipe(steps: 12).replacingOccurrences(of: "lr: 3.0e-3", with: "lr: 1.0e-2"))
        let (recipe, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let run = tempRun("outputs")
        defer { try? FileManager.default.removeItem(at: run) }
        let s = try Trainer(recipe: recipe, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run()
        let fm = FileManager.default
        for f in ["config.resolved.yaml", "metrics.jsonl", "summary.json", "best/model.safetensors", "checkpoint-12/state.json"] {
            #expect(fm.fileExists(atPath: run.appendingPathComponent(f).path), "missing \(f)")
        }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as! [String: Any]
        for k in ["steps", "final_loss", "trainable_parameters", "total_parameters", "tokens_per_second"] { #expect(summary[k] != nil, "summary lacks \(k)") }
        #expect(s.trainableParameters == s.totalParameters && s.totalParameters > 10_000)
        let train = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["split"] as? String == "train" }
        let early = train.prefix(3).compactMap { $0["loss"] as? Double }.reduce(0, +) / 3
        let late = train.suffix(3).compactMap { $0["loss"] as? Double }.reduce(0, +) / 3
        #expect(late < early, "loss did not fall: \(early) → \(late)")
        // keep_checkpoints: 5 with checkpoint_every 2 → 2,4,…,12 minus the oldest
        #expect(Checkpoints.all(in: run).map(\.0) == [4, 6, 8, 10, 12])
        // A checkpoint is a HuggingFace-layout model directory.
        let m = try EsmForMaskedLM.load(directory: run.appendingPathComponent("checkpoint-12"))
        #expect(m.config.numHiddenLayers == 1 && m.config.hiddenSize == 32)
        // A second run into the same directory is refused.
        #expect(throws: TrainingError.self) { try Trainer(recipe: recipe, runDirectory: run, resume: false, showProgress: false, log: { _ in }) }
    }

    @Test("an interrupt saves a checkpoint at the current step")
    func interrupt() throws {
        let p = try writeRecipe(tinyRecipe(steps: 6))
        let (recipe, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let run = tempRun("interrupt")
        defer { try? FileManager.default.removeItem(at: run) }
        let flag = InterruptFlag()
        flag.raise()
        let s = try Trainer(recipe: recipe, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run(interrupt: flag)
        #expect(s.interrupted && s.steps == 0)
        #expect(Checkpoints.latest(in: run)?.0 == 0)
        let r = try Trainer(recipe: recipe, runDirectory: run, resume: true, showProgress: false, log: { _ in }).run()
        #expect(r.steps == 6 && r.resumedFrom == 0)
    }

    @Test("resume falls back past a damaged newest checkpoint and restores a best/ whose replacement was cut short")
    func resumeFallback() throws {
        let p = try writeRecipe(tinyRecipe(steps: 12))
        let (recipe, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        let run = tempRun("fallback")
        defer { try? FileManager.default.removeItem(at: run) }
        _ = try Trainer(recipe: recipe, runDirectory: run, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 6)
        #expect(Checkpoints.all(in: run).map(\.0).suffix(2) == [4, 6])
        // The newest checkpoint's weights are cut short; best/ is caught between its two renames.
        let weights = run.appendingPathComponent("checkpoint-6/model.safetensors")
        try Data(try Data(contentsOf: weights).prefix(100)).write(to: weights)
        let best = run.appendingPathComponent("best")
        let hadBest = FileManager.default.fileExists(atPath: best.path)
        if hadBest { try FileManager.default.moveItem(at: best, to: run.appendingPathComponent(".best.old-4242")) }
        var logged: [String] = []
        let t = try Trainer(recipe: recipe, runDirectory: run, resume: true, showProgress: false, log: { logged.append($0) })
        #expect(logged.contains { $0.hasPrefix("cannot resume from checkpoint-6 (") }, "\(logged)")
        if hadBest {
            #expect(logged.contains("restored best/ (its replacement was interrupted)") && FileManager.default.fileExists(atPath: best.appendingPathComponent("state.json").path))
        }
        let s = try t.run()
        #expect(s.resumedFrom == 4 && s.steps == 12)
        // Nothing loads: a clear error naming each checkpoint.
        for (n, dir) in Checkpoints.all(in: run) {
            let w = dir.appendingPathComponent("model.safetensors")
            try Data(try Data(contentsOf: w).prefix(100)).write(to: w)
            _ = n
        }
        #expect { try Trainer(recipe: recipe, runDirectory: run, resume: true, showProgress: false, log: { _ in }) } throws: { e in
            "\(e)".contains("no checkpoint in") && "\(e)".contains("checkpoint-12:")
        }
    }

    @Test("length_buckets: each epoch is still a permutation, deterministic, and batches pad far less")
    func lengthBuckets() throws {
        let p = try writeRecipe(tinyRecipe(steps: 4))
        func trainer(_ extra: [String]) throws -> Trainer {
            let (r, _) = try RecipeLoader.load(path: p, overrides: ["data.max_length=512", "data.sources.0.max_records=200"] + extra,
                                               registry: testRegistry())
            return try Trainer(recipe: r, runDirectory: tempRun("buckets"), resume: false, showProgress: false, log: { _ in })
        }
        let plain = try trainer([]), bucketed = try trainer(["training.length_buckets=8"])
        let lengths = try #require(bucketed.trainLengths[0])
        #expect(lengths.count > 100 && plain.trainLengths.isEmpty)
        func padding(_ order: [Int]) -> Int {
            stride(from: 0, to: order.count - 3, by: 4).reduce(0) { acc, i in
                let l = order[i..<(i + 4)].map { min(lengths[$0]!, 512) }
                return acc + 4 * l.max()! - l.reduce(0, +)
            }
        }
        for epoch in 0..<2 {
            let a = plain.epochOrder(0, epoch), b = bucketed.epochOrder(0, epoch)
            #expect(a.sorted() == b.sorted() && Set(b).count == b.count, "epoch \(epoch): not a permutation of the training examples")
            #expect(b == (try trainer(["training.length_buckets=8"])).epochOrder(0, epoch), "not deterministic")
            let (pa, pb) = (padding(a), padding(b))
            #expect(Double(pb) < 0.3 * Double(pa), "epoch \(epoch): padding \(pb) tokens bucketed vs \(pa) shuffled")
            print("length_buckets 8, epoch \(epoch): padded tokens \(pb) vs \(pa) unbucketed")
        }
        #expect(bucketed.epochOrder(0, 0) != bucketed.epochOrder(0, 1))
        let bad = try writeRecipe(tinyRecipe(steps: 4))
        #expect(throws: RecipeError.self) { try RecipeLoader.load(path: bad, overrides: ["training.length_buckets=1"], registry: testRegistry()) }
    }

    @Test("length curriculum picks max_length by step")
    func curriculum() throws {
        let p = try writeRecipe(tinyRecipe(steps: 10).replacingOccurrences(of: "  max_length: 48",
            with: "  max_length: 48\n  curriculum: [{until: 0.8, max_length: 16}, {until: 1.0, max_length: 64}]"))
        let (r, _) = try RecipeLoader.load(path: p, registry: testRegistry())
        #expect(r.maxLength(atStep: 0) == 16 && r.maxLength(atStep: 7) == 16 && r.maxLength(atStep: 8) == 64)
    }
}

/// Trains 6 steps straight and 3 + resume + 3; true when the final model and
/// optimizer files are byte-identical and training changed the weights.
func resumeIsBitExact() throws -> Bool {
    let p = try writeRecipe(tinyRecipe(steps: 6))
    let (recipe, _) = try RecipeLoader.load(path: p, registry: testRegistry())
    let tmp = FileManager.default.temporaryDirectory
    let a = tmp.appendingPathComponent("plm-run-\(UUID().uuidString)-straight")
    let b = tmp.appendingPathComponent("plm-run-\(UUID().uuidString)-resumed")
    defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
    let sa = try Trainer(recipe: recipe, runDirectory: a, resume: false, showProgress: false, log: { _ in }).run()
    _ = try Trainer(recipe: recipe, runDirectory: b, resume: false, showProgress: false, log: { _ in }).run(stopAfter: 3)
    let sb = try Trainer(recipe: recipe, runDirectory: b, resume: true, showProgress: false, log: { _ in }).run()
    var same = sa.steps == 6 && sb.steps == 6 && sa.finalLoss == sb.finalLoss
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let x = try Data(contentsOf: a.appendingPathComponent("checkpoint-6/\(f)"))
        let y = try Data(contentsOf: b.appendingPathComponent("checkpoint-6/\(f)"))
        if x != y { FileHandle.standardError.write(Data("\(f) differs after resume\n".utf8)); same = false }
    }
    let fresh = try Trainer(recipe: recipe, runDirectory: tmp.appendingPathComponent("plm-run-\(UUID().uuidString)-init"),
                            resume: false, showProgress: false, log: { _ in })
    let w0 = fresh.encoder.module.namedParameters().first { $0.name.hasSuffix("query.weight") }!.parameter.value.toArray()
    let w6 = try SafeTensorsFile(url: a.appendingPathComponent("checkpoint-6/model.safetensors"))
        .tensor("esm.encoder.layer.0.attention.self.query.weight").toArray()
    return same && w0 != w6
}

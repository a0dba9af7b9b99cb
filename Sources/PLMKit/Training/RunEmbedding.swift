import Foundation
import PLMData
import PLMNN
import PLMTensor

/// What `Trainer.embed(to:perResidue:…)` wrote.
public struct RunEmbedSummary: Sendable {
    /// Examples written (one HDF5 group each).
    public var written = 0
    /// Examples longer than `data.max_length`, embedded from their first residues.
    public var cropped = 0
    /// Width of the `protein` dataset.
    public var proteinFeatureSize = 0
    /// Complete groups already in an existing output, not embedded again.
    public var skippedExisting = 0
    /// Stopped by `interrupt` between batches (every written group is complete).
    public var interrupted = false
    public var seconds = 0.0
}

extension Trainer {
    /// Embeds every example of every data source of the recipe with the model
    /// as loaded (`evaluate(checkpoint:split:)` or `loadCheckpoint(_:)` first):
    /// what `plm embed --structures` runs, so any encoder a recipe can build —
    /// the fusion encoder with its residue graph, `residue_graph`, third-party
    /// ones — gets the inputs it was trained on.
    ///
    /// One HDF5 group per example id: `protein` [F], the encoder's
    /// protein-level feature (ESM-2: mean over residues; fusion: pooled ESM ‖
    /// summed graph readout; residue_graph: summed readout), and with
    /// `perResidue` `per_residue` [L, d] (the last hidden state at token rows
    /// 1…L, i.e. without BOS/EOS); attributes `sequence`, `source`, and `id`
    /// when the group name differs; `complete` = 1 last. Examples longer than
    /// `data.max_length` are cropped from the start (counted in the summary).
    /// An existing output is continued unless `overwrite`: complete groups
    /// are skipped, partial ones redone; `interrupt` stops between batches.
    ///
    /// `shard` (index r of N) embeds only examples r, r+N, r+2N, … of the
    /// recipe's order (what each rank does under `mpirun`); `mergeEmbeddingShards`
    /// then joins the shard files.
    public func embed(to output: String, perResidue: Bool, batchSize: Int? = nil, overwrite: Bool = false,
                      interrupt: InterruptFlag? = nil, showProgress: Bool = false,
                      shard: (index: Int, count: Int) = (0, 1)) throws -> RunEmbedSummary {
        let t0 = Date()
        encoder.module.train(false)
        var summary = RunEmbedSummary(proteinFeatureSize: proteinFeatureSize(of: encoder))
        let bs = max(1, batchSize ?? recipe.training.batchSize)
        let tokenizer = Tokenizer()
        let resume = !overwrite && FileManager.default.fileExists(atPath: output)
        let file = resume ? try HDF5File.open(output, mode: .readWrite) : try HDF5File.create(output)
        // What to embed: every example (of this shard) whose group is not complete yet.
        var todo: [(source: Int, index: Int)] = []
        for (g, e) in try embeddingOrder().enumerated() where g % max(shard.count, 1) == shard.index {
            if resume && file.exists(e.group) {
                if (try? file.group(e.group).intAttribute("complete")) == 1 { summary.skippedExisting += 1; continue }
                try file.delete(e.group)   // partial, from an interrupted run
            }
            todo.append((e.source, e.index))
        }
        let bar = ProgressBar("embed", total: todo.count, unit: "proteins", enabled: showProgress)
        try withNoGrad {
            var start = 0
            while start < todo.count {
                if interrupt?.isRaised == true { summary.interrupted = true; break }
                // One batch: up to `bs` consecutive examples of one source.
                let si = todo[start].source
                var end = start
                while end < todo.count && end - start < bs && todo[end].source == si { end += 1 }
                defer { start = end }
                let s = sources[si]
                do {
                    var examples: [Example] = []
                    for (_, k) in todo[start..<end] {
                        let e = try s.data.example(at: k)
                        if e.tokens.count - 2 > recipe.data.maxLength {
                            summary.cropped += 1
                            examples.append(e.cropped(start: 0, length: recipe.data.maxLength))
                        } else {
                            examples.append(e)
                        }
                    }
                    let batch = Batch(source: s.config.name, group: s.config.group, examples: examples)
                    let out = try encoder.encode(batch: batch, request: EncoderRequest(), context: ForwardContext())
                    let features = proteinFeatures(of: encoder, out, tokens: batch.tokens)
                    let f = features.shape[1], pf = features.toArray()
                    let hidden = out.lastHiddenState, t = hidden.shape[1], d = hidden.shape[2]
                    let ph = perResidue ? hidden.toArray() : []
                    for (r, e) in examples.enumerated() {
                        let name = Embedder.groupName(e.id)
                        let g = try file.createGroup(name)
                        try g.write("protein", Array(pf[(r * f)..<((r + 1) * f)]), shape: [f])
                        let l = e.tokens.count - 2
                        if perResidue {
                            let first = (r * t + 1) * d   // token row 1 of example r
                            try g.write("per_residue", Array(ph[first..<(first + l * d)]), shape: [l, d])
                        }
                        try g.setAttribute("sequence", tokenizer.decode(Array(e.tokens.dropFirst().prefix(l))))
                        try g.setAttribute("source", s.config.name)
                        if name != e.id { try g.setAttribute("id", e.id) }
                        try g.setAttribute("complete", 1)
                        summary.written += 1
                    }
                    bar.advance(examples.count)
                }
            }
        }
        try file.flush()
        bar.finish()
        summary.seconds = Date().timeIntervalSince(t0)
        return summary
    }

    /// Every example of the recipe's sources in embedding order, with its output group name
    /// (ids must be unique across sources: they name the groups).
    public func embeddingOrder() throws -> [(source: Int, index: Int, group: String)] {
        var seen: [String: String] = [:]
        var out: [(source: Int, index: Int, group: String)] = []
        for (si, s) in sources.enumerated() {
            for k in 0..<s.data.count {
                let id = try s.data.id(at: k)
                if let other = seen[id] {
                    throw TrainingError.plugin("example id '\(id)' comes from both source '\(other)' and '\(s.config.name)': ids name the output groups")
                }
                seen[id] = s.config.name
                out.append((si, k, Embedder.groupName(id)))
            }
        }
        return out
    }

    /// Joins the files written by `embed(…, shard: (r, N))` for r = 0..<N into `output`
    /// in embedding order (example g comes from shard g % N). Complete groups already in
    /// `output` are kept unless `overwrite` (which starts `output` afresh); partial ones
    /// are replaced; groups missing from an interrupted shard are left for a rerun.
    /// Returns the number of groups copied.
    public func mergeEmbeddingShards(_ shards: [String], into output: String, overwrite: Bool) throws -> Int {
        let exists = FileManager.default.fileExists(atPath: output)
        let out: HDF5File = (exists && !overwrite) ? try HDF5File.open(output, mode: .readWrite) : try HDF5File.create(output, overwrite: true)
        defer { out.close() }
        let files = try shards.map { try HDF5File.open($0) }
        defer { for f in files { f.close() } }
        var copied = 0
        for (g, e) in try embeddingOrder().enumerated() {
            if out.exists(e.group) {
                if (try? out.group(e.group).intAttribute("complete")) == 1 { continue }
                try out.delete(e.group)
            }
            let src = files[g % files.count]
            guard src.exists(e.group), (try? src.group(e.group).intAttribute("complete")) == 1 else { continue }
            try out.copy(e.group, from: src)
            copied += 1
        }
        try out.flush()
        return copied
    }
}

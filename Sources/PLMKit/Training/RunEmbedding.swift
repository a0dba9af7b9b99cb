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
    public func embed(to output: String, perResidue: Bool, batchSize: Int? = nil, overwrite: Bool = false,
                      interrupt: InterruptFlag? = nil, showProgress: Bool = false) throws -> RunEmbedSummary {
        let t0 = Date()
        encoder.module.train(false)
        var summary = RunEmbedSummary(proteinFeatureSize: proteinFeatureSize(of: encoder))
        let bs = max(1, batchSize ?? recipe.training.batchSize)
        let tokenizer = Tokenizer()
        let resume = !overwrite && FileManager.default.fileExists(atPath: output)
        let file = resume ? try HDF5File.open(output, mode: .readWrite) : try HDF5File.create(output)
        // What to embed: every example whose group is not complete yet (ids must be unique).
        var seen: [String: String] = [:]
        var todo: [(source: Int, index: Int)] = []
        for (si, s) in sources.enumerated() {
            for k in 0..<s.data.count {
                let id = try s.data.id(at: k)
                if let other = seen[id] {
                    throw TrainingError.plugin("example id '\(id)' comes from both source '\(other)' and '\(s.config.name)': ids name the output groups")
                }
                seen[id] = s.config.name
                let name = Embedder.groupName(id)
                if resume && file.exists(name) {
                    if (try? file.group(name).intAttribute("complete")) == 1 { summary.skippedExisting += 1; continue }
                    try file.delete(name)   // partial, from an interrupted run
                }
                todo.append((si, k))
            }
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
}

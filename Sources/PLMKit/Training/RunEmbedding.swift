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
    /// when the group name differs. Examples longer than `data.max_length`
    /// are cropped from the start (counted in the summary).
    public func embed(to output: String, perResidue: Bool, batchSize: Int? = nil, showProgress: Bool = false) throws -> RunEmbedSummary {
        let t0 = Date()
        encoder.module.train(false)
        var summary = RunEmbedSummary(proteinFeatureSize: proteinFeatureSize(of: encoder))
        let total = sources.reduce(0) { $0 + $1.data.count }
        let bar = ProgressBar("embed", total: total, unit: "proteins", enabled: showProgress)
        let bs = max(1, batchSize ?? recipe.training.batchSize)
        let tokenizer = Tokenizer()
        let file = try HDF5File.create(output)
        var seen: [String: String] = [:]
        try withNoGrad {
            for s in sources {
                for chunk in stride(from: 0, to: s.data.count, by: bs) {
                    var examples: [Example] = []
                    for k in chunk..<min(chunk + bs, s.data.count) {
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
                        if let other = seen[e.id] {
                            throw TrainingError.plugin("example id '\(e.id)' comes from both source '\(other)' and '\(s.config.name)': ids name the output groups")
                        }
                        seen[e.id] = s.config.name
                        let name = Embedder.groupName(e.id)
                        let g = try file.createGroup(name)
                        try g.write("protein", Array(pf[(r * f)..<((r + 1) * f)]), shape: [f])
                        let l = e.tokens.count - 2
                        if perResidue {
                            let start = (r * t + 1) * d
                            try g.write("per_residue", Array(ph[start..<(start + l * d)]), shape: [l, d])
                        }
                        try g.setAttribute("sequence", tokenizer.decode(Array(e.tokens.dropFirst().prefix(l))))
                        try g.setAttribute("source", s.config.name)
                        if name != e.id { try g.setAttribute("id", e.id) }
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

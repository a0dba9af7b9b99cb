import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMTensor

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed FASTA sequences or structures with a trained model into an HDF5 file.",
        discussion: """
        One HDF5 group per record (named by its id) with `mean` [d] (layer output
        averaged over residues, BOS/EOS excluded) and, on request, `per_residue`
        [L, d], `logits` [L+2, 33], `attentions` [layers, heads, L+2, L+2],
        `contacts` [L, L]; attribute `sequence`. Chains separated by ':' or '/'
        in a record are joined with <eos><cls>. Rerunning on an existing output
        continues where it stopped (complete records are skipped).

        Under mpirun, rank r embeds records (or structures) r, r+N, r+2N, …
        into OUT.rank-r-of-N.h5; rank 0 then merges them into OUT (input
        order) and removes them. An interrupted job keeps the shards: rerun
        the same command to finish and merge.

        Any other encoder a recipe can build (the 3DProtLM fusion encoder,
        residue_graph, third-party kinds) is embedded from its run: --model is
        the run directory (best/, else the newest checkpoint) or a checkpoint
        in it, and the input --structures (PDB/mmCIF file, directory or list
        file; --chain) or --fasta is read through the recipe's own data
        plugins. One group per protein with `protein` [F] (the encoder's
        protein feature: pooled ESM ‖ summed graph readout for fusion) and
        with --per-residue `per_residue` [L, d]; attributes `sequence`, `source`.
        """)

    @Option(help: "Model: HuggingFace ESM directory (config.json + model.safetensors), PLMKit run directory, or a checkpoint in one.")
    var model: String
    @Option(help: "An adapter-only checkpoint (tuning.json + adapters.safetensors, e.g. a LoRA run's checkpoint) to put onto the --model base first.")
    var adapters: String?
    @Option(help: "Input FASTA.")
    var fasta: String?
    @Option(help: "Input structures (PDB/mmCIF file, directory or list file) for a run whose encoder reads structures.")
    var structures: String?
    @Option(help: "With --structures: the chain to read (default: every protein chain).")
    var chain: String?
    @Option(help: "Output HDF5 file.")
    var out: String
    @Flag(help: "Store per-residue representations [L, d].")
    var perResidue = false
    @Flag(help: "Store LM logits [L+2, 33].")
    var logits = false
    @Flag(help: "Store attention maps [layers, heads, L+2, L+2].")
    var attentions = false
    @Flag(help: "Store contact probabilities [L, L].")
    var contacts = false
    @Option(help: "Representation layer: 0 = embeddings, L = final; negative counts from the end.")
    var layer: Int = -1
    @Option(help: "Tokens per batch including padding.")
    var maxTokens: Int = 8192
    @Option(help: "Sequences longer than the model's context: error | truncate | window.")
    var long: String = "error"
    @Option(help: "Residues per sequence or window (default: the model's context, 1022 for ESM-2).")
    var maxLength: Int?
    @Flag(help: "Replace an existing output instead of continuing it.")
    var overwrite = false
    @Option(help: "Threads (default: all cores or PLM_NUM_THREADS).")
    var threads: Int?
    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        let comm: Communicator
        do { comm = try Distributed.makeCommunicator() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        guard comm.isDistributed else { return try embed(comm) }
        let tag = "plm rank \(comm.rank)/\(comm.size)"
        MPISignals.install(tag: tag, runHint: nil)
        do { try embed(comm) } catch let e as ExitCode {
            if e.rawValue != 0 { comm.abort("\(tag): exiting with status \(e.rawValue); ending the job", code: e.rawValue) }
        } catch {
            comm.abort("\(tag): error: \(error)", code: 1)
        }
        comm.finalize()
    }

    func embed(_ comm: Communicator) throws {
        do {
            if let threads { Threads.configure(threads) }
            else if comm.isDistributed && ProcessInfo.processInfo.environment["PLM_NUM_THREADS"] == nil {
                let local = MPICommunicator.ranksOnNode ?? 1
                Threads.configure(max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1)))
            }
            let run = try ModelSource.run(for: model)
            let kind = run.flatMap { ModelSource.encoderKind(ofRun: $0.run) }
            if structures != nil || (kind != nil && kind != "esm2") {
                if adapters != nil { throw EmbedError.badOption("--adapters applies to an ESM-2 model read with --fasta") }
                guard let run else {
                    throw EmbedError.badOption("--structures needs --model to be a PLMKit run directory or a checkpoint in one (its recipe says how to build the encoder)")
                }
                return try embedRun(run.run, checkpoint: run.checkpoint, kind: kind ?? "?", comm)
            }
            guard let fasta else { throw EmbedError.badOption("give --fasta (or --structures with a run directory)") }
            guard let policy = LongSequencePolicy(rawValue: long) else {
                throw EmbedError.badOption("--long must be one of \(LongSequencePolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(long)'")
            }
            var o = EmbedOptions()
            o.perResidue = perResidue; o.logits = logits; o.attentions = attentions; o.contacts = contacts
            o.layer = layer; o.maxTokens = maxTokens; o.longPolicy = policy; o.maxResidues = maxLength
            o.overwrite = overwrite; o.showProgress = !quiet && comm.isRoot
            let records = try FASTAReader.read(url: URL(fileURLWithPath: fasta))
            guard !records.isEmpty else { throw EmbedError.badOption("\(fasta) holds no FASTA records") }
            let m = try ModelSource.loadMaskedLM(run?.checkpoint.path ?? model, adapters: adapters)   // the run's checkpoint, resolved once
            if !comm.isDistributed { InterruptFlag.shared.install() }
            let mine = comm.shard(records)
            let target = comm.isDistributed ? comm.shardPath(out, rank: comm.rank) : out
            let s = try Embedder(model: m, options: o).run(records: mine, output: target, interrupt: comm.isDistributed ? nil : InterruptFlag.shared)
            let rate = s.seconds > 0 ? Double(s.tokens) / s.seconds : 0
            var msg = "embedded \(s.written) record(s) into \(target) (\(s.tokens) tokens, \(String(format: "%.0f", rate)) tok/s)"
            if s.skippedExisting > 0 { msg += "; \(s.skippedExisting) already present were skipped" }
            if comm.isDistributed { msg = "rank \(comm.rank): " + msg }
            FileHandle.standardError.write(Data((msg + "\n").utf8))
            if comm.isDistributed {
                try mergeRankShards(comm, into: out, count: { "\($0) record(s)" }) {
                    try Embedder.mergeShards($0, records: records, into: out, overwrite: overwrite)
                }
            }
            if s.interrupted {
                FileHandle.standardError.write(Data("interrupted: rerun the same command to embed the remaining records\n".utf8))
                throw ExitCode(130)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Embeds through a run's recipe (`Trainer.embed`): the input replaces the
    /// recipe's data sources, so the encoder gets what its plugins read.
    func embedRun(_ run: URL, checkpoint: URL, kind: String, _ comm: Communicator) throws {
        if fasta != nil && structures != nil { throw EmbedError.badOption("give --fasta or --structures, not both") }
        let unsupported = [("--logits", logits), ("--attentions", attentions), ("--contacts", contacts), ("--layer", layer != -1)]
            .filter(\.1).map(\.0)
        if !unsupported.isEmpty {
            throw EmbedError.badOption("\(unsupported.joined(separator: ", ")) need an ESM-2 model; this run's encoder is '\(kind)'")
        }
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        // Paths in --set values resolve against the run's config file: pass absolute ones.
        func quotedPath(_ p: String) -> String { quoted(URL(fileURLWithPath: p).standardizedFileURL.path) }
        let source: String
        if let structures {
            source = "{name: input, kind: structures, path: \(quotedPath(structures))" + (chain.map { ", chain: \(quoted($0))" } ?? "") + "}"
        } else if let fasta {
            source = "{name: input, kind: fasta, path: \(quotedPath(fasta))}"
        } else {
            throw EmbedError.badOption("give --structures (or --fasta) to embed with this run's encoder '\(kind)'")
        }
        var overrides = ["data.sources=[\(source)]"]
        if let maxLength { overrides.append("data.max_length=\(maxLength)") }
        let trainer = try Trainer.evaluating(runDirectory: run, registry: builtinRegistry(), overrides: overrides,
                                             log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        try trainer.loadCheckpointModel(checkpoint)
        // Under mpirun rank r embeds examples r, r+N, … into its shard; rank 0 merges (as for --fasta).
        let target = comm.isDistributed ? comm.shardPath(out, rank: comm.rank) : out
        let existed = FileManager.default.fileExists(atPath: target)
        if !comm.isDistributed { InterruptFlag.shared.install() }
        let s: RunEmbedSummary
        do {
            s = try trainer.embed(to: target, perResidue: perResidue, overwrite: overwrite,
                                  interrupt: comm.isDistributed ? nil : InterruptFlag.shared,
                                  showProgress: !quiet && comm.isRoot, shard: (comm.rank, comm.size))
        } catch {
            if !existed { try? FileManager.default.removeItem(atPath: target) }
            if fasta != nil { throw EmbedError.badOption("\(error)\n(this run's encoder '\(kind)' may need structures: use --structures)") }
            throw error
        }
        var msg = "embedded \(s.written) protein(s) with \(kind) (\(checkpoint.lastPathComponent), protein feature \(s.proteinFeatureSize)) into \(target) in \(String(format: "%.1f", s.seconds)) s"
        if s.skippedExisting > 0 { msg += "; \(s.skippedExisting) already present were skipped" }
        if s.cropped > 0 { msg += "; \(s.cropped) longer than data.max_length \(trainer.recipe.data.maxLength) were cropped (raise it with --max-length)" }
        if comm.isDistributed { msg = "rank \(comm.rank): " + msg }
        FileHandle.standardError.write(Data((msg + "\n").utf8))
        if comm.isDistributed {
            try mergeRankShards(comm, into: out, count: { "\($0) protein(s)" }) {
                try trainer.mergeEmbeddingShards($0, into: out, overwrite: overwrite)
            }
        }
        if s.interrupted {
            FileHandle.standardError.write(Data("interrupted: rerun the same command to embed the remaining proteins\n".utf8))
            throw ExitCode(130)
        }
    }
}

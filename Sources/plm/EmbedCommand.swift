import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMTensor

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed FASTA sequences with an ESM model into an HDF5 file.",
        discussion: """
        One HDF5 group per record (named by its id) with `mean` [d] (layer output
        averaged over residues, BOS/EOS excluded) and, on request, `per_residue`
        [L, d], `logits` [L+2, 33], `attentions` [layers, heads, L+2, L+2],
        `contacts` [L, L]; attribute `sequence`. Chains separated by ':' or '/'
        in a record are joined with <eos><cls>. Rerunning on an existing output
        continues where it stopped (complete records are skipped).
        """)

    @Option(help: "Model directory (config.json + model.safetensors, HuggingFace layout).")
    var model: String
    @Option(help: "Input FASTA.")
    var fasta: String
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
        do {
            if let threads { Threads.configure(threads) }
            guard let policy = LongSequencePolicy(rawValue: long) else {
                throw EmbedError.badOption("--long must be one of \(LongSequencePolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(long)'")
            }
            var o = EmbedOptions()
            o.perResidue = perResidue; o.logits = logits; o.attentions = attentions; o.contacts = contacts
            o.layer = layer; o.maxTokens = maxTokens; o.longPolicy = policy; o.maxResidues = maxLength
            o.overwrite = overwrite; o.showProgress = !quiet
            let records = try FASTAReader.read(url: URL(fileURLWithPath: fasta))
            guard !records.isEmpty else { throw EmbedError.badOption("\(fasta) holds no FASTA records") }
            let m = try ModelSource.loadMaskedLM(model)
            InterruptFlag.shared.install()
            let s = try Embedder(model: m, options: o).run(records: records, output: out, interrupt: InterruptFlag.shared)
            let rate = s.seconds > 0 ? Double(s.tokens) / s.seconds : 0
            var msg = "embedded \(s.written) record(s) into \(out) (\(s.tokens) tokens, \(String(format: "%.0f", rate)) tok/s)"
            if s.skippedExisting > 0 { msg += "; \(s.skippedExisting) already present were skipped" }
            FileHandle.standardError.write(Data((msg + "\n").utf8))
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
}

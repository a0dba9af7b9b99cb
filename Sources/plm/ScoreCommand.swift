import ArgumentParser
import Foundation
import PLMKit

extension ScoringMethod: ExpressibleByArgument {}

/// `plm score`: zero-shot variant-effect scores (ESM-1v / ProteinGym conventions).
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score substitution variants of a wild type with a masked language model.",
        discussion: """
        Variants are written A12G (wild-type letter, 1-based position, mutant letter); \
        multi-mutants join substitutions with ':' (A12G:K40R); --mutations separates variants \
        with ','. --mutations-file is a CSV with a header and a 'mutant' (ProteinGym) or \
        'mutation' column; its other columns are kept and a 'score' column is appended.
        Methods: masked-marginal (mask each site, log p(mt) - log p(wt), summed over sites), \
        wt-marginal (the same from one unmasked wild-type pass), pll (the mutant's \
        pseudo-log-likelihood; also writes pll_delta = PLL(mutant) - PLL(wild type)). \
        Sequences longer than 1022 residues are scored in a 1022-residue window centred \
        on each site.
        """
    )

    @Option(help: "Model directory (HuggingFace layout: config.json + model.safetensors).")
    var model: String

    @Option(help: "The wild-type sequence.")
    var sequence: String?

    @Option(name: .customLong("sequence-file"), help: "A FASTA file holding the wild type (one record), instead of --sequence.")
    var sequenceFile: String?

    @Option(help: "Variants, e.g. \"A12G,K40R:L41P\".")
    var mutations: String?

    @Option(name: .customLong("mutations-file"), help: "CSV with a 'mutant' or 'mutation' column, instead of --mutations.")
    var mutationsFile: String?

    @Option(help: "Scoring method.")
    var method: ScoringMethod = .maskedMarginal

    @Option(help: "Output CSV (written atomically).")
    var out: String

    @Option(name: .customLong("max-tokens"), help: "Token budget of one batch of model passes.")
    var maxTokens: Int = VariantScorer.defaultMaxTokens

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        do {
            try execute()
        } catch let e as ExitCode {
            throw e
        } catch {
            let text: String
            if let c = error as? CocoaError { text = c.localizedDescription } else { text = "\(error)" }
            FileHandle.standardError.write(Data("error: \(text)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func execute() throws {
        // Arguments first (usage errors), then inputs, then the model: fail before any work.
        guard (mutations == nil) != (mutationsFile == nil) else {
            throw ScoringError.invalidOption(name: "--mutations/--mutations-file", reason: "give exactly one of them (see plm score --help)")
        }
        guard (sequence == nil) != (sequenceFile == nil) else {
            throw ScoringError.invalidOption(name: "--sequence/--sequence-file", reason: "give exactly one of them (see plm score --help)")
        }
        guard maxTokens >= 1 else {
            throw ScoringError.invalidOption(name: "--max-tokens", reason: "must be at least 1, got \(maxTokens)")
        }
        let wildType = try sequence ?? VariantScorer.wildType(fastaFile: URL(fileURLWithPath: sequenceFile!))
        _ = try VariantScorer.wildTypeTokens(wildType)       // invalid characters -> typed error
        let parser = MutationParser(wildType: wildType)

        // Variants, and the table they will be written back into.
        var header: [String]
        var rows: [[String]]
        var variants: [Variant]
        if let list = mutations {
            variants = try parser.parseList(list)
            header = ["mutation"]
            rows = variants.map { [$0.description] }
        } else {
            let path = mutationsFile!
            let table = try ScoringCSV.read(URL(fileURLWithPath: path))
            guard let col = table.column(["mutant", "mutation"]) else {
                throw ScoringCSVError.missingColumn(file: path, wanted: ["mutant", "mutation"], header: table.header)
            }
            guard !table.rows.isEmpty else { throw ScoringCSVError.row(file: path, line: 2, reason: "no data rows") }
            variants = []
            variants.reserveCapacity(table.rows.count)
            for (row, line) in zip(table.rows, table.lines) {
                do { variants.append(try parser.parseVariant(row[col])) } catch {
                    throw ScoringCSVError.row(file: path, line: line, reason: "\(error)")
                }
            }
            header = table.header
            rows = table.rows
        }

        let outURL = URL(fileURLWithPath: out)
        var isDir: ObjCBool = false
        let outDir = outURL.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: outDir, isDirectory: &isDir), isDir.boolValue else {
            throw ScoringCSVError.unwritable(file: out, reason: "directory \(outDir) does not exist")
        }

        let scorer = try VariantScorer(modelPath: model, maxTokens: maxTokens)
        var bar: ProgressBar? = nil
        var shown = 0
        let scores = try scorer.score(variants, wildType: wildType, method: method) { done, total, tokens in
            if bar == nil { bar = ProgressBar("score \(method.rawValue)", total: total, unit: "passes", enabled: !quiet) }
            if done > shown { bar?.advance(done - shown, tokens: tokens) }
            shown = done
        }
        bar?.finish()

        // Append (or, with a warning, overwrite) the score columns.
        var columns = [("score", scores.map { ScoringCSV.formatScore($0.score) })]
        if method == .pseudoLogLikelihood {
            columns.append(("pll_delta", scores.map { ScoringCSV.formatScore($0.pllDelta ?? .nan) }))
        }
        for (name, values) in columns {
            if let i = header.firstIndex(of: name) {
                FileHandle.standardError.write(Data("warning: \(mutationsFile ?? "input") already has a '\(name)' column; its values are replaced in \(out)\n".utf8))
                for r in rows.indices { rows[r][i] = values[r] }
            } else {
                header.append(name)
                for r in rows.indices { rows[r].append(values[r]) }
            }
        }
        try ScoringCSV.writeAtomically(ScoringCSV.format(header: header, rows: rows), to: outURL)
        if !quiet {
            let secs = String(format: "%.1f", bar?.elapsed ?? 0)
            FileHandle.standardError.write(Data("scored \(variants.count) variants (\(method.rawValue), \(wildType.count) residues) in \(secs)s -> \(out)\n".utf8))
        }
    }
}

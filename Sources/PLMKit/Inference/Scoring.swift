import Foundation
import PLMData
import PLMNN
import PLMTensor

// Zero-shot variant-effect scores from a masked language model, following
// ESM-1v (Meier et al. 2021) and ProteinGym. Spec: docs/ESM2.md, section
// "Zero-shot variant scoring". All log-probabilities are log_softmax over the
// model's full vocabulary (33 logits); sums are accumulated in Double.

/// How variants are scored.
public enum ScoringMethod: String, CaseIterable, Sendable, Codable {
    /// Mask each mutated site alone in the wild type; `log p(mt) - log p(wt)`
    /// at that site; multi-mutants sum their sites. One pass per distinct site.
    case maskedMarginal = "masked-marginal"
    /// The same log-ratio from one unmasked pass on the wild type.
    case wildTypeMarginal = "wt-marginal"
    /// The mutant's pseudo-log-likelihood: the sum over all positions of
    /// `log p(x_i | x_-i)`, masking one position per pass.
    case pseudoLogLikelihood = "pll"
}

/// The score of one variant.
public struct VariantScore: Equatable, Sendable {
    public var variant: Variant
    /// Masked / wild-type marginal log-ratio, or the mutant's PLL.
    public var score: Double
    /// For `.pseudoLogLikelihood`: PLL(mutant) - PLL(wild type); nil otherwise.
    public var pllDelta: Double?

    public init(variant: Variant, score: Double, pllDelta: Double? = nil) {
        self.variant = variant
        self.score = score
        self.pllDelta = pllDelta
    }
}

/// Bad scoring inputs that are not mutation errors.
public enum ScoringError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The wild type holds a chain separator or an inline special token (1-based position).
    case unsupportedWildType(position: Int, character: Character)
    /// An option value out of range.
    case invalidOption(name: String, reason: String)
    /// A wild-type FASTA file without exactly one record.
    case wildTypeFile(path: String, records: Int)

    public var description: String {
        switch self {
        case let .unsupportedWildType(position, character):
            return "wild type: '\(character)' at position \(position) is not allowed; the wild type must be one chain of residue letters"
        case let .invalidOption(name, reason):
            return "\(name): \(reason)"
        case let .wildTypeFile(path, records):
            return "\(path): expected one FASTA record (the wild type), found \(records)"
        }
    }
}

/// Progress of a scoring run: model passes finished so far, the total, and
/// the tokens of the last batch.
public typealias ScoringProgress = (_ passesDone: Int, _ passesTotal: Int, _ batchTokens: Int) -> Void

/// Scores substitution variants of one wild type with an ESM masked LM.
///
/// Model passes are batched so that a batch holds at most `maxTokens` tokens
/// (at least one pass per batch). Every pass of one run has the same length
/// (substitutions keep the length; windows have a fixed width), so batches
/// are never padded. Only the rows that are read go through the LM head.
/// Sequences longer than `windowResidues` are scored in windows (see `ScoringWindow`).
public final class VariantScorer {
    public let model: EsmForMaskedLM
    /// Token budget of one batch (BOS/EOS included).
    public let maxTokens: Int
    /// Residues of a scoring window (1022 for ESM-2; capped by the position
    /// table of absolute-position models).
    public let windowResidues: Int
    public let alphabet: Alphabet = .esm

    /// Default token budget of one batch.
    public static let defaultMaxTokens = 4096
    /// ESM's 1024-token context minus BOS and EOS.
    public static let defaultWindowResidues = 1022

    public init(model: EsmForMaskedLM, maxTokens: Int = VariantScorer.defaultMaxTokens,
                windowResidues: Int = VariantScorer.defaultWindowResidues) throws {
        guard maxTokens >= 1 else { throw ScoringError.invalidOption(name: "max-tokens", reason: "must be at least 1, got \(maxTokens)") }
        guard windowResidues >= 1 else { throw ScoringError.invalidOption(name: "window", reason: "must be at least 1, got \(windowResidues)") }
        var w = windowResidues
        let c = model.config
        if !c.isRotary {
            // fairseq positions run padding_idx+1 ... padding_idx+T and must fit the table.
            w = min(w, c.maxPositionEmbeddings - c.padTokenId - 3)
            guard w >= 1 else { throw ScoringError.invalidOption(name: "window", reason: "the model's position table is too small") }
        }
        guard c.vocabSize == alphabet.count else {
            throw ScoringError.invalidOption(name: "model", reason: "vocabulary of \(c.vocabSize) tokens; ESM's alphabet has \(alphabet.count)")
        }
        self.model = model
        self.maxTokens = maxTokens
        self.windowResidues = w
    }

    /// Loads the model named by a `--model` argument (see `ModelSource`).
    public convenience init(modelPath: String, maxTokens: Int = VariantScorer.defaultMaxTokens,
                            windowResidues: Int = VariantScorer.defaultWindowResidues) throws {
        try self.init(model: ModelSource.loadMaskedLM(modelPath), maxTokens: maxTokens, windowResidues: windowResidues)
    }

    // MARK: Inputs

    /// Residue token ids of a wild type (no BOS/EOS). Throws the tokenizer's
    /// error for invalid characters, and `unsupportedWildType` for chain
    /// separators (`:` `/`) and inline special tokens (`<mask>`).
    public static func wildTypeTokens(_ sequence: String, alphabet: Alphabet = .esm) throws -> [Int32] {
        for (i, ch) in sequence.enumerated() where ch == ":" || ch == "/" || ch == "<" {
            throw ScoringError.unsupportedWildType(position: i + 1, character: ch)
        }
        let ids = try Tokenizer(alphabet: alphabet).encode(sequence, id: "wild type")
        return Array(ids[1..<(ids.count - 1)])
    }

    /// The sequence of a FASTA file holding exactly one record.
    public static func wildType(fastaFile url: URL) throws -> String {
        let records = try FASTAReader.read(url: url)
        guard records.count == 1 else { throw ScoringError.wildTypeFile(path: url.path, records: records.count) }
        return records[0].sequence
    }

    // MARK: Scoring

    /// Scores `variants` of `wildType` (each is checked against it first).
    public func score(_ variants: [Variant], wildType: String, method: ScoringMethod,
                      progress: ScoringProgress? = nil) throws -> [VariantScore] {
        let wt = try Self.wildTypeTokens(wildType, alphabet: alphabet)
        let parser = MutationParser(wildType: wildType)
        for v in variants { try parser.validate(v) }
        switch method {
        case .maskedMarginal: return maskedMarginal(variants, wt: wt, progress: progress)
        case .wildTypeMarginal: return wildTypeMarginal(variants, wt: wt, progress: progress)
        case .pseudoLogLikelihood: return pseudoLogLikelihood(variants, wt: wt, progress: progress)
        }
    }

    /// The pseudo-log-likelihood of one sequence: `sum_i log p(x_i | x_-i)`.
    public func pseudoLogLikelihood(of sequence: String, progress: ScoringProgress? = nil) throws -> Double {
        let ids = try Self.wildTypeTokens(sequence, alphabet: alphabet)
        let terms = pllTerms(ids, progress: progress.map { p in { d, b in p(d, ids.count, b) } })
        return terms.reduce(0) { $0 + Double($1) }
    }

    private func id(_ c: Character) -> Int {
        Int(alphabet.index(ofResidue: c.asciiValue ?? 0) ?? alphabet.unkIndex)
    }

    /// ESM-1v masked marginal: one masked pass per distinct site (in its own window).
    func maskedMarginal(_ variants: [Variant], wt: [Int32], progress: ScoringProgress?) -> [VariantScore] {
        let sites = Array(Set(variants.flatMap { $0.mutations.map { $0.position - 1 } })).sorted()
        var logp: [Int: [Float]] = [:]     // site -> log-probabilities [V] with the site masked
        let length = min(wt.count, windowResidues) + 2
        runPasses(count: sites.count, tokensPerPass: length, progress: progress, fill: { k, buf in
            let p = sites[k]
            let w = ScoringWindow(centeredOn: p, length: wt.count, width: windowResidues)
            encodeWindow(wt, w, into: buf)
            buf[w.tokenIndex(ofResidue: p)] = alphabet.maskIndex
            return [w.tokenIndex(ofResidue: p)]
        }, consume: { k, rows in
            logp[sites[k]] = rows
        })
        return variants.map { variant in
            let s = variant.mutations.reduce(0.0) { acc, m in
                let row = logp[m.position - 1]!
                return acc + Double(row[id(m.mutant)]) - Double(row[id(m.wildType)])
            }
            return VariantScore(variant: variant, score: s)
        }
    }

    /// Wild-type marginal: unmasked passes, one per distinct window (one for L <= window).
    func wildTypeMarginal(_ variants: [Variant], wt: [Int32], progress: ScoringProgress?) -> [VariantScore] {
        let sites = Array(Set(variants.flatMap { $0.mutations.map { $0.position - 1 } })).sorted()
        var byStart: [Int: [Int]] = [:]
        for p in sites { byStart[ScoringWindow(centeredOn: p, length: wt.count, width: windowResidues).start, default: []].append(p) }
        let starts = byStart.keys.sorted()
        let v = model.config.vocabSize
        var logp: [Int: [Float]] = [:]
        let length = min(wt.count, windowResidues) + 2
        runPasses(count: starts.count, tokensPerPass: length, progress: progress, fill: { k, buf in
            let ps = byStart[starts[k]]!
            let w = ScoringWindow(centeredOn: ps[0], length: wt.count, width: windowResidues)
            encodeWindow(wt, w, into: buf)
            return ps.map { w.tokenIndex(ofResidue: $0) }
        }, consume: { k, rows in
            for (j, p) in byStart[starts[k]]!.enumerated() { logp[p] = Array(rows[(j * v)..<((j + 1) * v)]) }
        })
        return variants.map { variant in
            let s = variant.mutations.reduce(0.0) { acc, m in
                let row = logp[m.position - 1]!
                return acc + Double(row[id(m.mutant)]) - Double(row[id(m.wildType)])
            }
            return VariantScore(variant: variant, score: s)
        }
    }

    /// log p(x_i | x_-i) for every position of `seq`, each in its own centred window [L].
    func pllTerms(_ seq: [Int32], progress: ((Int, Int) -> Void)?) -> [Float] {
        var terms = [Float](repeating: 0, count: seq.count)
        let length = min(seq.count, windowResidues) + 2
        runPasses(count: seq.count, tokensPerPass: length, progress: progress.map { p in { d, _, b in p(d, b) } }, fill: { i, buf in
            let w = ScoringWindow(centeredOn: i, length: seq.count, width: windowResidues)
            encodeWindow(seq, w, into: buf)
            buf[w.tokenIndex(ofResidue: i)] = alphabet.maskIndex
            return [w.tokenIndex(ofResidue: i)]
        }, consume: { i, rows in
            terms[i] = rows[Int(seq[i])]
        })
        return terms
    }

    /// Pseudo-log-likelihoods of the mutants and their difference to the wild type.
    ///
    /// The wild type's L terms are computed once. A mutant needs a fresh pass
    /// only at positions whose window contains one of its substitutions (all
    /// positions when L <= window); elsewhere its input is token for token
    /// the wild type's, so the wild type's term is reused. Identical mutant
    /// sequences are scored once.
    func pseudoLogLikelihood(_ variants: [Variant], wt: [Int32], progress: ScoringProgress?) -> [VariantScore] {
        let L = wt.count, W = windowResidues
        // Distinct mutant sequences, keyed by their (sorted, non-synonymous) substitutions.
        var keyIndex: [[Mutation]: Int] = [:]
        var mutants: [[Mutation]] = []
        let variantKey: [Int] = variants.map { v in
            let key = v.mutations.filter { !$0.isSynonymous }.sorted { $0.position < $1.position }
            if let k = keyIndex[key] { return k }
            keyIndex[key] = mutants.count
            mutants.append(key)
            return mutants.count - 1
        }
        // Positions needing a pass, per mutant: the union of the ranges seeing each site.
        var ranges: [[Range<Int>]] = []
        var offsets: [Int] = [0]            // prefix sums of pass counts
        for key in mutants {
            var rs: [Range<Int>] = []
            for m in key {
                let r = ScoringWindow.positions(seeing: m.position - 1, length: L, width: W)
                if let last = rs.last, r.lowerBound <= last.upperBound {
                    rs[rs.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    rs.append(r)
                }
            }
            ranges.append(rs)
            offsets.append(offsets.last! + rs.reduce(0) { $0 + $1.count })
        }
        let mutantPasses = offsets.last!
        let total = L + mutantPasses
        progress?(0, total, 0)
        let wtTerms = pllTerms(wt, progress: progress.map { p in { d, b in p(d, total, b) } })
        let pllWT = wtTerms.reduce(0.0) { $0 + Double($1) }

        // Pass k -> (mutant, position).
        func locate(_ k: Int) -> (Int, Int) {
            var lo = 0, hi = mutants.count - 1       // last mutant with offsets[m] <= k
            while lo < hi { let mid = (lo + hi + 1) / 2; if offsets[mid] <= k { lo = mid } else { hi = mid - 1 } }
            var r = k - offsets[lo]
            for range in ranges[lo] {
                if r < range.count { return (lo, range.lowerBound + r) }
                r -= range.count
            }
            preconditionFailure("pass \(k) beyond mutant \(lo)'s positions")
        }
        var delta = [Double](repeating: 0, count: mutants.count)
        let length = min(L, W) + 2
        var scratch = wt
        runPasses(count: mutantPasses, tokensPerPass: length, progress: progress.map { p in { d, _, b in p(L + d, total, b) } }, fill: { k, buf in
            let (m, i) = locate(k)
            for s in mutants[m] { scratch[s.position - 1] = Int32(id(s.mutant)) }
            let w = ScoringWindow(centeredOn: i, length: L, width: W)
            encodeWindow(scratch, w, into: buf)
            for s in mutants[m] { scratch[s.position - 1] = wt[s.position - 1] }
            buf[w.tokenIndex(ofResidue: i)] = alphabet.maskIndex
            return [w.tokenIndex(ofResidue: i)]
        }, consume: { k, rows in
            let (m, i) = locate(k)
            let x = mutants[m].first { $0.position - 1 == i }.map { Int32(id($0.mutant)) } ?? wt[i]
            delta[m] += Double(rows[Int(x)]) - Double(wtTerms[i])
        })
        return variants.enumerated().map { j, v in
            let d = delta[variantKey[j]]
            return VariantScore(variant: v, score: pllWT + d, pllDelta: d)
        }
    }

    // MARK: Passes

    /// `<cls> seq[window] <eos>` into `buf` [window.tokenCount].
    private func encodeWindow(_ seq: [Int32], _ w: ScoringWindow, into buf: UnsafeMutablePointer<Int32>) {
        buf[0] = alphabet.clsIndex
        seq.withUnsafeBufferPointer { s in (buf + 1).update(from: s.baseAddress! + w.start, count: w.count) }
        buf[w.count + 1] = alphabet.eosIndex
    }

    /// Runs `count` model passes of `t` tokens each, batched by the token budget.
    ///
    /// `fill(k, buf)` writes pass k's tokens [t] and returns the token indices
    /// to read; `consume(k, rows)` receives their log-probabilities
    /// [reads, V] row-major. Runs without recording gradients.
    private func runPasses(count n: Int, tokensPerPass t: Int, progress: ScoringProgress?,
                           fill: (Int, UnsafeMutablePointer<Int32>) -> [Int],
                           consume: (Int, [Float]) -> Void) {
        let v = model.config.vocabSize
        let perBatch = max(1, maxTokens / t)
        progress?(0, n, 0)
        var k = 0
        while k < n {
            let b = min(perBatch, n - k)
            var ids = [Int32](repeating: alphabet.padIndex, count: b * t)
            var reads: [Int] = []          // flat row indices into [b * t]
            var readCounts: [Int] = []
            ids.withUnsafeMutableBufferPointer { buf in
                for j in 0..<b {
                    let r = fill(k + j, buf.baseAddress! + j * t)
                    readCounts.append(r.count)
                    for x in r { reads.append(j * t + x) }
                }
            }
            let logp: [Float] = withNoGrad {
                let h = model.esm(IndexTensor(shape: [b, t], values: ids)).lastHiddenState     // [b, t, d]
                let d = h.shape[2]
                let rows = h.reshaped([b * t, d]).indexSelect(axis: 0, indices: reads).reshaped([1, reads.count, d])
                return model.logits(fromHidden: rows).logSoftmax().toArray()              // [1, reads, V]
            }
            var off = 0
            for j in 0..<b {
                let c = readCounts[j] * v
                consume(k + j, Array(logp[off..<(off + c)]))
                off += c
            }
            k += b
            progress?(k, n, b * t)
        }
    }
}

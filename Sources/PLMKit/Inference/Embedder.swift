import Foundation
import PLMData
import PLMNN
import PLMTensor

/// What to do with sequences longer than the model's context.
public enum LongSequencePolicy: String, CaseIterable, Sendable {
    /// Refuse the run up front, listing every record that is too long.
    case error
    /// Keep the first `maxResidues` residues (the record's attribute `truncated_to` says so).
    case truncate
    /// Overlapping windows of `maxResidues` (stride half a window); per-residue
    /// values are averaged where windows overlap, contacts between residues
    /// that never share a window are NaN. Not with `attentions`.
    case window
}

/// Options of `plm embed`.
public struct EmbedOptions: Sendable {
    public var perResidue = false
    public var logits = false
    public var attentions = false
    public var contacts = false
    /// Representation layer: 0 = embeddings, L = final (after the last LayerNorm); negative counts from L (-1 = L).
    public var layer: Int = -1
    /// Tokens per batch, padding included (B × longest T).
    public var maxTokens = 8192
    public var longPolicy: LongSequencePolicy = .error
    /// Residues per sequence or window; nil = the model's context (1022 for ESM-2, positions − 2 for ESM-1b).
    public var maxResidues: Int? = nil
    /// Start a new file instead of resuming an existing one.
    public var overwrite = false
    public var showProgress = true
    public init() {}
}

/// Bad embed requests.
public enum EmbedError: Error, CustomStringConvertible, Equatable {
    case tooLong(records: [String], limit: Int)
    case layerOutOfRange(layer: Int, layers: Int)
    case attentionsNeedWholeSequences
    case badOption(String)

    public var description: String {
        switch self {
        case let .tooLong(records, limit):
            let shown = records.prefix(5).joined(separator: ", ") + (records.count > 5 ? ", … (\(records.count) in all)" : "")
            return "\(records.count) record(s) exceed the model's \(limit) residues: \(shown); choose --long truncate or --long window"
        case let .layerOutOfRange(layer, layers):
            return "--layer \(layer) is out of range: the model has layers 0…\(layers) (negative values count from the end)"
        case .attentionsNeedWholeSequences:
            return "--attentions cannot be combined with --long window (attention maps of windows do not join)"
        case let .badOption(s): return s
        }
    }
}

/// What a run did.
public struct EmbedSummary: Sendable {
    public var written = 0
    public var skippedExisting = 0
    public var interrupted = false
    public var tokens = 0
    public var seconds = 0.0
}

/// FASTA in, HDF5 out: one group per record with `mean` [d], and on request
/// `per_residue` [L, d], `logits` [T, 33], `attentions` [layers, heads, T, T],
/// `contacts` [L, L] (T = L + 2 tokens for one chain; multi-chain records keep
/// their `<eos><cls>` linker tokens in `logits`/`attentions` but not in the
/// residue-indexed outputs), float32, attribute `sequence`.
///
/// Batches are filled up to `maxTokens` from sequences sorted by length, so
/// padding stays small. A group is marked `complete` once written; rerunning
/// on an existing file skips complete records (a Ctrl-C loses nothing).
public final class Embedder {
    public let model: EsmForMaskedLM
    public let options: EmbedOptions
    let tokenizer = Tokenizer()

    public init(model: EsmForMaskedLM, options: EmbedOptions) {
        self.model = model
        self.options = options
    }

    /// The residue limit in force.
    public var maxResidues: Int {
        if let m = options.maxResidues { return m }
        let c = model.config
        return c.isRotary ? 1022 : c.maxPositionEmbeddings - 2
    }

    struct Piece {
        let record: Int
        let offset: Int          // first interior token of the record covered
        let interior: [Int32]    // tokens between BOS and EOS
    }

    /// Sums for one record while its pieces come back.
    final class Accumulator {
        let interior: [Int32]
        let originalCount: Int   // interior tokens before truncation
        let n: Int, d: Int
        var rep: [Float], repCount: [Float]
        var logits: [Float], logitsCount: [Float]
        var contacts: [Float], contactCount: [Float]
        var attentions: [Float] = []
        var remaining: Int
        init(interior: [Int32], originalCount: Int, d: Int, pieces: Int, logits: Bool, contacts: Bool) {
            self.interior = interior
            self.originalCount = originalCount
            n = interior.count
            self.d = d
            rep = [Float](repeating: 0, count: n * d)
            repCount = [Float](repeating: 0, count: n)
            self.logits = logits ? [Float](repeating: 0, count: (n + 2) * 33) : []
            logitsCount = logits ? [Float](repeating: 0, count: n + 2) : []
            self.contacts = contacts ? [Float](repeating: 0, count: n * n) : []
            contactCount = contacts ? [Float](repeating: 0, count: n * n) : []
            remaining = pieces
        }
    }

    /// Tokenises, applies the long-sequence policy and splits into pieces.
    func plan(_ records: [FASTARecord]) throws -> (pieces: [Piece], interiors: [[Int32]], counts: [Int], originals: [Int]) {
        let limit = maxResidues
        guard limit >= 1 else { throw EmbedError.badOption("--max-length must be at least 1") }
        var pieces: [Piece] = [], interiors: [[Int32]] = [], counts: [Int] = [], originals: [Int] = []
        var tooLong: [String] = []
        for (ri, r) in records.enumerated() {
            let toks = try tokenizer.encode(r)
            var interior = Array(toks.dropFirst().dropLast())
            originals.append(interior.count)
            if interior.count > limit {
                switch options.longPolicy {
                case .error: tooLong.append("\(r.id) (\(interior.count))")
                case .truncate: interior = Array(interior.prefix(limit))
                case .window: break
                }
            }
            interiors.append(interior)
            if interior.count > limit && options.longPolicy == .window {
                let stride = max(1, limit / 2)
                var s = 0, k = 0
                while true {
                    pieces.append(Piece(record: ri, offset: s, interior: Array(interior[s..<(s + limit)])))
                    k += 1
                    if s + limit >= interior.count { break }
                    s = min(s + stride, interior.count - limit)
                }
                counts.append(k)
            } else {
                pieces.append(Piece(record: ri, offset: 0, interior: interior))
                counts.append(1)
            }
        }
        if !tooLong.isEmpty { throw EmbedError.tooLong(records: tooLong, limit: limit) }
        return (pieces, interiors, counts, originals)
    }

    /// Groups piece indices into batches of at most `maxTokens` (longest first).
    static func batches(lengths: [Int], maxTokens: Int) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        var out: [[Int]] = [], cur: [Int] = []
        var width = 0
        for i in order {
            let t = lengths[i]
            if !cur.isEmpty && (cur.count + 1) * width > maxTokens {
                out.append(cur); cur = []
            }
            if cur.isEmpty { width = t }
            cur.append(i)
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    static func groupName(_ id: String) -> String {
        let s = id.replacingOccurrences(of: "/", with: "_")
        return s == "." || s.isEmpty ? "_" + s : s
    }

    /// Embeds `records` into the HDF5 file at `output`.
    public func run(records: [FASTARecord], output: String, interrupt: InterruptFlag? = nil) throws -> EmbedSummary {
        let c = model.config
        let layers = c.numHiddenLayers
        let layer = options.layer < 0 ? layers + 1 + options.layer : options.layer
        guard layer >= 0 && layer <= layers else { throw EmbedError.layerOutOfRange(layer: options.layer, layers: layers) }
        if options.attentions && options.longPolicy == .window { throw EmbedError.attentionsNeedWholeSequences }
        guard options.maxTokens >= 1 else { throw EmbedError.badOption("--max-tokens must be positive") }

        // Open or resume the output.
        let exists = FileManager.default.fileExists(atPath: output)
        let file: HDF5File = (exists && !options.overwrite) ? try HDF5File.open(output, mode: .readWrite)
                                                            : try HDF5File.create(output, overwrite: true)
        var summary = EmbedSummary()
        var todo: [FASTARecord] = []
        for r in records {
            let g = Self.groupName(r.id)
            if file.exists(g) {
                let grp = try file.group(g)
                if (try? grp.intAttribute("complete")) == 1 { summary.skippedExisting += 1; continue }
                try file.delete(g)   // a partial group from an interrupted run
            }
            todo.append(r)
        }
        let (pieces, interiors, counts, originals) = try plan(todo)
        let batches = Self.batches(lengths: pieces.map { $0.interior.count + 2 }, maxTokens: options.maxTokens)
        let bar = ProgressBar("embed", total: todo.count, unit: "seq", enabled: options.showProgress)
        var acc: [Int: Accumulator] = [:]
        let t0 = Date()
        let d = c.hiddenSize, pad = Int32(c.padTokenId)
        let needHidden = layer != layers
        let needAttn = options.attentions || options.contacts

        for batch in batches {
            if interrupt?.isRaised == true { summary.interrupted = true; break }
            let width = batch.map { pieces[$0].interior.count + 2 }.max()!
            let b = batch.count
            var ids = [Int32](repeating: pad, count: b * width)
            for (k, pi) in batch.enumerated() {
                let p = pieces[pi]
                ids[k * width] = Alphabet.esm.clsIndex
                for (j, t) in p.interior.enumerated() { ids[k * width + 1 + j] = t }
                ids[k * width + 1 + p.interior.count] = Alphabet.esm.eosIndex
            }
            let tokens = IndexTensor(shape: [b, width], values: ids)
            let (rep, logits, attn, contacts): (Tensor, Tensor?, [Tensor], Tensor?) = withNoGrad {
                let out = model.esm(tokens, hiddenStates: needHidden, attentions: needAttn)
                let rep = needHidden ? out.hiddenStates[layer] : out.lastHiddenState
                let lg = options.logits ? model.logits(fromHidden: out.lastHiddenState) : nil
                let ct = options.contacts ? model.esm.contactHead(tokens, attentions: out.attentions, padIndex: pad) : nil
                return (rep, lg, options.attentions ? out.attentions : [], ct)
            }
            var finished: [Int] = []
            for (k, pi) in batch.enumerated() {
                let p = pieces[pi]
                let a = acc[p.record] ?? Accumulator(interior: interiors[p.record], originalCount: originals[p.record],
                                                     d: d, pieces: counts[p.record],
                                                     logits: options.logits, contacts: options.contacts)
                acc[p.record] = a
                gather(piece: p, row: k, width: width, rep: rep, logits: logits, attn: attn, contacts: contacts, into: a)
                a.remaining -= 1
                if a.remaining == 0 { finished.append(p.record) }
            }
            for r in finished.sorted() {
                try write(record: todo[r], acc: acc[r]!, into: file)
                acc[r] = nil
                summary.written += 1
            }
            try file.flush()
            let batchTokens = batch.reduce(0) { $0 + pieces[$1].interior.count + 2 }
            summary.tokens += batchTokens
            bar.advance(finished.count, tokens: batchTokens)
        }
        summary.seconds = Date().timeIntervalSince(t0)
        bar.finish()
        return summary
    }

    /// Copies one piece's rows out of the batch outputs into its record's sums.
    func gather(piece p: Piece, row k: Int, width: Int, rep: Tensor, logits: Tensor?, attn: [Tensor],
                contacts: Tensor?, into a: Accumulator) {
        let d = a.d, tp = p.interior.count + 2, n = a.n
        let rp = rep.data + k * width * d
        for j in 0..<p.interior.count {
            let dst = (p.offset + j) * d, src = rp + (1 + j) * d
            for x in 0..<d { a.rep[dst + x] += src[x] }
            a.repCount[p.offset + j] += 1
        }
        if let logits {
            let lp = logits.data + k * width * 33
            for j in 0..<tp {
                let t: Int
                if j == 0 { guard p.offset == 0 else { continue }; t = 0 }
                else if j == tp - 1 { guard p.offset + p.interior.count == n else { continue }; t = n + 1 }
                else { t = p.offset + j }
                for v in 0..<33 { a.logits[t * 33 + v] += lp[j * 33 + v] }
                a.logitsCount[t] += 1
            }
        }
        if let contacts {
            let w2 = width - 2
            let cp = contacts.data + k * w2 * w2
            let m = p.interior.count
            for i in 0..<m {
                for j in 0..<m {
                    let q = (p.offset + i) * n + p.offset + j
                    a.contacts[q] += cp[i * w2 + j]
                    a.contactCount[q] += 1
                }
            }
        }
        if !attn.isEmpty {  // whole sequences only: copy [layers, heads, tp, tp]
            let heads = attn[0].shape[1]
            var out = [Float](repeating: 0, count: attn.count * heads * tp * tp)
            for (l, t) in attn.enumerated() {
                for h in 0..<heads {
                    let src = t.data + ((k * heads + h) * width) * width
                    for i in 0..<tp {
                        for j in 0..<tp { out[((l * heads + h) * tp + i) * tp + j] = src[i * width + j] }
                    }
                }
            }
            a.attentions = out
        }
    }

    /// Writes a finished record's group (marked complete last).
    func write(record: FASTARecord, acc a: Accumulator, into file: HDF5File) throws {
        let d = a.d, n = a.n
        let cls = Alphabet.esm.clsIndex, eos = Alphabet.esm.eosIndex
        let residues = (0..<n).filter { a.interior[$0] != cls && a.interior[$0] != eos }
        let l = residues.count
        var perRes = [Float](repeating: 0, count: l * d)
        var mean = [Float](repeating: 0, count: d)
        for (r, i) in residues.enumerated() {
            let c = max(a.repCount[i], 1)
            for x in 0..<d {
                let v = a.rep[i * d + x] / c
                perRes[r * d + x] = v
                mean[x] += v
            }
        }
        if l > 0 { for x in 0..<d { mean[x] /= Float(l) } }
        let g = try file.createGroup(Self.groupName(record.id))
        try g.write("mean", mean, shape: [d])
        if options.perResidue { try g.write("per_residue", perRes, shape: [l, d]) }
        if options.logits {
            var lg = a.logits
            for t in 0..<(n + 2) { let c = max(a.logitsCount[t], 1); for v in 0..<33 { lg[t * 33 + v] /= c } }
            try g.write("logits", lg, shape: [n + 2, 33])
        }
        if options.attentions {
            let layers = model.config.numHiddenLayers, heads = model.config.numAttentionHeads
            try g.write("attentions", a.attentions, shape: [layers, heads, n + 2, n + 2])
        }
        if options.contacts {
            var ct = [Float](repeating: 0, count: l * l)
            for (r, i) in residues.enumerated() {
                for (s, j) in residues.enumerated() {
                    let c = a.contactCount[i * n + j]
                    ct[r * l + s] = c > 0 ? a.contacts[i * n + j] / c : .nan
                }
            }
            try g.write("contacts", ct, shape: [l, l])
        }
        try g.setAttribute("sequence", record.sequence)
        if record.id != Self.groupName(record.id) { try g.setAttribute("id", record.id) }
        if a.interior.count < a.originalCount { try g.setAttribute("truncated_to", a.interior.count) }
        try g.setAttribute("complete", 1)
    }
}

extension Embedder {
    /// Batch grouping (indices into `lengths`), exposed for tests.
    public static func batchesForTesting(lengths: [Int], maxTokens: Int) -> [[Int]] {
        batches(lengths: lengths, maxTokens: maxTokens)
    }
}

extension Embedder {

    /// Merges per-rank embedding files into `output`, records in `records`
    /// order (record i is in shard i mod N), skipping records `output` already
    /// holds complete; deletes the shards afterwards. Returns the records copied.
    @discardableResult
    public static func mergeShards(_ shards: [String], records: [FASTARecord], into output: String, overwrite: Bool) throws -> Int {
        let exists = FileManager.default.fileExists(atPath: output)
        let out: HDF5File = (exists && !overwrite) ? try HDF5File.open(output, mode: .readWrite) : try HDF5File.create(output, overwrite: true)
        let files = try shards.map { try HDF5File.open($0) }
        var copied = 0
        for (i, r) in records.enumerated() {
            let name = groupName(r.id)
            if out.exists(name) {
                if (try? out.group(name).intAttribute("complete")) == 1 { continue }
                try out.delete(name)
            }
            let src = files[i % files.count]
            guard src.exists(name) else { continue }   // an interrupted shard: rerun to finish
            let from = try src.group(name)
            guard (try? from.intAttribute("complete")) == 1 else { continue }
            let to = try out.createGroup(name)
            for ds in ["mean", "per_residue", "logits", "attentions", "contacts"] where from.exists(ds) {
                try to.write(ds, try from.read(ds, as: Float.self))
            }
            try to.setAttribute("sequence", try from.stringAttribute("sequence"))
            if try from.hasAttribute("id") { try to.setAttribute("id", try from.stringAttribute("id")) }
            if try from.hasAttribute("truncated_to") { try to.setAttribute("truncated_to", try from.intAttribute("truncated_to")) }
            try to.setAttribute("complete", 1)
            copied += 1
        }
        try out.flush()
        for f in files { f.close() }
        out.close()
        return copied
    }
}

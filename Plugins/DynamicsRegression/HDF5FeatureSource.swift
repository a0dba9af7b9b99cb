import Foundation
import PLMData
import PLMKit

/// Feature keys of the examples an `hdf5_features` source yields.
public enum DynamicsFeatureKeys {
    /// Per-residue targets [T, C] in token space (C = 47 for MD, 3 for NMA; store column order).
    public static let residue = "residue"
    /// Per-pair targets [T, T, C] in token space (C = 10 for MD, 3 for NMA; store channel order).
    public static let pair = "pair"
}

/// `kind: hdf5_features` — proteins from a SeqDance-layout HDF5 feature store
/// (docs SEQDANCE.md "Storage layout"; `plm prepare nma|md` writes them).
///
/// Each example's tokens are the stored sequence encoded by `Tokenizer`
/// (`<cls> … <eos>`, with SeqDance's `<eos><cls>` chain linkers kept as
/// written), and its features are `residue` [T, C] and `pair` [T, T, C] in
/// token space with -1 at every invalid position, exactly as stored — except
/// that MD RMSF (residue column 2) is divided by the protein's maximum over
/// valid residues (SeqDance's loader does this, MD data only).
///
/// ```yaml
/// - {name: md, kind: hdf5_features, path: data/md.h5, group: md, feature_kind: md,
///    source_filter: [ATLAS, GPCRmd], names: [P1, P2], max_proteins: 100, validation_fraction: 0.05}
/// ```
/// `feature_kind` (md | nma) and `source_filter` (metadata `source` values)
/// select proteins; `names` keeps only the listed ones (in that order);
/// `sequences` gives a CSV (`name` + `modify_seq` or `sequence` columns, and
/// optionally `source`, as SeqDance's dataset tables) or FASTA for stores
/// without sequences in their metadata (the published files); a CSV `source`
/// fills empty metadata sources, so `source_filter` works on those files too. `preload` reads every protein at start
/// (default: when the file is at most 64 MiB); otherwise each example is read
/// from the file when asked for, and the last few are kept.
public struct HDF5FeatureSourceConfig: DataSourcePluginConfig {
    public static let category = PluginCategory.dataSource
    public var name: String
    public var path: RecipePath
    public var weight: Float
    public var group: String
    public var validationFraction: Double
    public var featureKind: SeqDanceFeatureKind?
    public var sourceFilter: [String]?
    public var names: [String]?
    public var maxProteins: Int?
    public var sequences: RecipePath?
    public var normalizeRMSF: Bool
    public var preload: Bool?

    enum CodingKeys: String, CodingKey {
        case name, path, weight, group, validationFraction = "validation_fraction", featureKind = "feature_kind"
        case sourceFilter = "source_filter", names, maxProteins = "max_proteins", sequences
        case normalizeRMSF = "normalize_rmsf", preload
    }

    public init(name: String, path: String, group: String? = nil, featureKind: SeqDanceFeatureKind? = nil,
                names: [String]? = nil, maxProteins: Int? = nil) {
        self.name = name
        self.path = RecipePath(path)
        weight = 1
        self.group = group ?? name
        validationFraction = 0
        self.featureKind = featureKind
        self.names = names
        self.maxProteins = maxProteins
        normalizeRMSF = true
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let common = try DataSourceCommon(from: decoder)
        name = common.name; weight = common.weight; group = common.group; validationFraction = common.validationFraction
        path = try c.decode(RecipePath.self, forKey: .path)
        if let k = try c.decodeIfPresent(String.self, forKey: .featureKind) {
            guard let kind = SeqDanceFeatureKind(rawValue: k) else {
                throw recipeError(decoder, key: CodingKeys.featureKind, "must be 'md' or 'nma', got '\(k)'")
            }
            featureKind = kind
        }
        sourceFilter = try c.decodeIfPresent([String].self, forKey: .sourceFilter)
        names = try c.decodeIfPresent([String].self, forKey: .names)
        maxProteins = try c.decodeIfPresent(Int.self, forKey: .maxProteins)
        sequences = try c.decodeIfPresent(RecipePath.self, forKey: .sequences)
        normalizeRMSF = try c.decodeIfPresent(Bool.self, forKey: .normalizeRMSF) ?? true
        preload = try c.decodeIfPresent(Bool.self, forKey: .preload)
        if let m = maxProteins, m < 1 { throw recipeError(decoder, key: CodingKeys.maxProteins, "must be at least 1") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(path, forKey: .path)
        try c.encode(weight, forKey: .weight)
        try c.encode(group, forKey: .group)
        try c.encode(validationFraction, forKey: .validationFraction)
        try c.encodeIfPresent(featureKind?.rawValue, forKey: .featureKind)
        try c.encodeIfPresent(sourceFilter, forKey: .sourceFilter)
        try c.encodeIfPresent(names, forKey: .names)
        try c.encodeIfPresent(maxProteins, forKey: .maxProteins)
        try c.encodeIfPresent(sequences, forKey: .sequences)
        try c.encode(normalizeRMSF, forKey: .normalizeRMSF)
        try c.encodeIfPresent(preload, forKey: .preload)
    }

    public func makeSource(_ ctx: BuildContext) throws -> DataSource {
        try HDF5FeatureSource(self)
    }
}

/// Errors of the `hdf5_features` source; each names the file and protein.
public struct DynamicsDataError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Examples from a SeqDance feature store (see `HDF5FeatureSourceConfig`).
public final class HDF5FeatureSource: DataSource {
    public let name: String
    public let config: HDF5FeatureSourceConfig
    /// Selected proteins, in order, with their sequences.
    public let entries: [SeqDanceEntry]
    let store: SeqDanceFeatureStore
    let tokenizer = Tokenizer()
    private var preloaded: [Example]? = nil
    private var recent: [(Int, Example)] = []
    private let lock = NSLock()

    public init(_ c: HDF5FeatureSourceConfig) throws {
        config = c
        name = c.name
        let file = c.path.path
        guard FileManager.default.fileExists(atPath: file) else {
            throw DynamicsDataError("data source '\(c.name)': no file at \(file)")
        }
        let store = try SeqDanceFeatureStore(path: file, mode: .read)
        self.store = store
        var extra: [String: (sequence: String, source: String?)] = [:]
        if let s = c.sequences {
            extra = try Self.readSequences(s.url)
        }
        var selected: [SeqDanceEntry]
        if let wanted = c.names {
            selected = try wanted.map { n in
                guard let e = store.entry(n) else { throw DynamicsDataError("data source '\(c.name)': protein '\(n)' (names) is not in \(file)") }
                return e
            }
        } else {
            selected = store.entries
        }
        for i in selected.indices {
            guard let x = extra[selected[i].name] else { continue }
            if selected[i].sequence.isEmpty { selected[i].sequence = x.sequence }
            if selected[i].source.isEmpty, let src = x.source { selected[i].source = src }
        }
        selected = selected.filter { e in
            (c.featureKind == nil || e.kind == c.featureKind) && (c.sourceFilter.map { $0.contains(e.source) } ?? true)
        }
        if let e = selected.first(where: { $0.sequence.isEmpty }) {
            throw DynamicsDataError("data source '\(c.name)': protein '\(e.name)' in \(file) has no sequence in the metadata; give one with 'sequences:'")
        }
        if let m = c.maxProteins { selected = Array(selected.prefix(m)) }
        entries = selected
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? Int.max
        if c.preload ?? (size <= 64 << 20) {
            preloaded = try entries.indices.map { try load($0) }
        }
    }

    public var count: Int { entries.count }

    public func example(at index: Int) throws -> Example {
        if let p = preloaded { return p[index] }
        lock.lock(); defer { lock.unlock() }
        if let hit = recent.first(where: { $0.0 == index }) { return hit.1 }
        let e = try load(index)
        recent.append((index, e))
        if recent.count > 8 { recent.removeFirst() }
        return e
    }

    /// Reads protein `index`: tokens from its sequence, features as stored (RMSF normalised).
    func load(_ index: Int) throws -> Example {
        let entry = entries[index]
        let rec = try store.read(entry.name)
        let tokens: [Int32]
        do { tokens = try tokenizer.encode(entry.sequence, id: entry.name) } catch {
            throw DynamicsDataError("data source '\(name)', \(store.path): \(error)")
        }
        let t = rec.residue.shape[0]
        guard tokens.count == t else {
            throw DynamicsDataError("data source '\(name)', \(store.path): protein '\(entry.name)' has \(tokens.count) tokens (BOS/EOS included) but features for \(t)")
        }
        var residue = rec.residue.values
        let cr = rec.residue.shape[1]
        if config.normalizeRMSF && entry.kind == .md {
            Self.normalizeRMSF(&residue, channels: cr)
        }
        var e = Example(id: entry.name, tokens: tokens)
        e.features[DynamicsFeatureKeys.residue] = FeatureArray(shape: [t, cr], values: residue)
        e.features[DynamicsFeatureKeys.pair] = FeatureArray(shape: rec.pair.shape, values: rec.pair.values)
        return e
    }

    /// Divides MD residue column 2 (RMSF) by its maximum over valid (≠ -1) rows.
    public static func normalizeRMSF(_ residue: inout [Float], channels cr: Int) {
        let col = SeqDanceColumns.MDResidue.rmsf
        let rows = residue.count / cr
        var m: Float = 0
        for r in 0..<rows where residue[r * cr + col] != SeqDanceTokenSpace.invalid { m = max(m, residue[r * cr + col]) }
        guard m > 0 else { return }
        for r in 0..<rows where residue[r * cr + col] != SeqDanceTokenSpace.invalid { residue[r * cr + col] /= m }
    }

    /// name -> (sequence, source) from a SeqDance-style CSV (`name`, `modify_seq` or `sequence`, optional
    /// `source`) or a FASTA file. Sources fill in empty metadata (the published files have none).
    static func readSequences(_ url: URL) throws -> [String: (sequence: String, source: String?)] {
        if url.pathExtension.lowercased() == "csv" {
            let text: String
            do { text = try String(contentsOf: url, encoding: .utf8) } catch {
                throw DynamicsDataError("sequences: cannot read \(url.path): \(error.localizedDescription)")
            }
            var lines = text.split(whereSeparator: \.isNewline).map(String.init)
            guard !lines.isEmpty else { throw DynamicsDataError("sequences: \(url.path) is empty") }
            let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let ni = header.firstIndex(of: "name"),
                  let si = header.firstIndex(of: "modify_seq") ?? header.firstIndex(of: "sequence") else {
                throw DynamicsDataError("sequences: \(url.path) needs a 'name' and a 'modify_seq' or 'sequence' column; header is \(header)")
            }
            let oi = header.firstIndex(of: "source")
            var out: [String: (sequence: String, source: String?)] = [:]
            for (k, l) in lines.enumerated() {
                // Names may contain commas only in quoted fields, which SeqDance's tables never use.
                let f = l.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard f.count == header.count else {
                    throw DynamicsDataError("sequences: \(url.path) line \(k + 2) has \(f.count) fields, the header \(header.count)")
                }
                out[f[ni]] = (f[si], oi.map { f[$0] })
            }
            return out
        }
        var out: [String: (sequence: String, source: String?)] = [:]
        for r in try FASTAReader.read(url: url) { out[r.id] = (r.sequence, nil) }
        return out
    }
}

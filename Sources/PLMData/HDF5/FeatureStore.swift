// SeqDance feature store: the published per-protein HDF5 layout plus a
// metadata table.
//
// File layout (h5py: `f["P1_res_feature"][...]`, `f["metadata/name"].asstr()[...]`):
//
//   /NAME_res_feature     float32 [L+2, 47] (md) or [L+2, 3] (nma)
//   /NAME_pair_feature    float32 [L+2, L+2, 10] (md) or [L+2, L+2, 3] (nma)
//   /metadata/name        variable-length UTF-8 strings [N]   (1-D, extendable)
//   /metadata/sequence    variable-length UTF-8 strings [N]   ("" = unknown)
//   /metadata/source      variable-length UTF-8 strings [N]   (ATLAS, GPCRmd, ...)
//   /metadata/kind        variable-length UTF-8 strings [N]   ("md" | "nma")
//   /metadata/length      int64 [N]                           (L)
//   root attributes: layout = "seqdance-features", layout_version = 1
//
// Token space: row 0 is BOS, row L+1 is EOS, and every special-token row and
// column (BOS, EOS, `<...>` tokens inside the sequence such as `<eos><cls>`
// chain linkers) holds -1. L counts the tokens between BOS and EOS.
//
// The metadata columns are parallel 1-D datasets rather than one compound
// dataset because h5py reads them directly as arrays (no vlen-in-compound
// handling) and they grow row by row with `append`. Files without /metadata
// (as published) are read by scanning the root for `*_res_feature`; opening
// such a file for append first back-fills the table (sequence "", source "").
//
// Not thread-safe: use one store per thread (the HDF5 calls themselves are
// serialized process-wide).

/// One metadata row.
public struct SeqDanceEntry: Equatable, Sendable {
    /// Protein name; datasets are `NAME_res_feature` and `NAME_pair_feature`.
    public var name: String
    /// Sequence whose token count is L (may contain `<...>` special tokens); "" when unknown.
    public var sequence: String
    /// Data source (see `SeqDanceSource`); "" when unknown.
    public var source: String
    /// Feature family.
    public var kind: SeqDanceFeatureKind
    /// L: tokens between BOS and EOS.
    public var length: Int

    public init(name: String, sequence: String, source: String, kind: SeqDanceFeatureKind, length: Int) {
        self.name = name
        self.sequence = sequence
        self.source = source
        self.kind = kind
        self.length = length
    }
}

/// One protein read back from the store, in token space.
public struct SeqDanceRecord: Equatable, Sendable {
    /// Residue features [L+2, residueChannels], -1 in special rows.
    public var residue: HDF5Array<Float>
    /// Pair features [L+2, L+2, pairChannels], -1 in special rows and columns.
    public var pair: HDF5Array<Float>
    /// The metadata row.
    public var metadata: SeqDanceEntry
}

/// Reads and appends SeqDance-layout feature files.
public final class SeqDanceFeatureStore {
    /// How to open the file.
    public enum Mode: Sendable {
        /// Existing file, read-only.
        case read
        /// Existing file read-write (earlier proteins kept), or a new file.
        case append
        /// New empty file (an existing one is truncated).
        case truncate
    }

    /// Value of the root attribute `layout`.
    public static let layoutName = "seqdance-features"
    /// Value of the root attribute `layout_version`.
    public static let layoutVersion = 1
    /// Group holding the metadata columns.
    public static let metadataGroup = "metadata"

    /// Dataset name of a protein's residue features.
    public static func residueDatasetName(_ name: String) -> String { name + "_res_feature" }
    /// Dataset name of a protein's pair features.
    public static func pairDatasetName(_ name: String) -> String { name + "_pair_feature" }

    /// The underlying file (root group).
    public let file: HDF5File
    /// Storage options for new feature datasets (default contiguous; `.compressed()` for gzip).
    public var featureOptions: HDF5DatasetOptions
    /// Metadata rows in file order.
    public private(set) var entries: [SeqDanceEntry] = []
    private var rowOfName: [String: Int] = [:]

    /// Path of the file.
    public var path: String { file.filePath }

    /// Opens or creates a store at `path`.
    public init(path: String, mode: Mode = .read, featureOptions: HDF5DatasetOptions = .contiguous) throws {
        switch mode {
        case .read: file = try HDF5File.open(path, mode: .readOnly)
        case .append: file = try HDF5File.openOrCreate(path)
        case .truncate: file = try HDF5File.create(path, overwrite: true)
        }
        self.featureOptions = featureOptions
        if file.exists(Self.metadataGroup) {
            try loadMetadata()
        } else {
            entries = try scanRoot()
            rebuildIndex()
            if file.isWritable { try createMetadata(backfill: entries) }
        }
    }

    // MARK: queries

    /// Protein names in file order.
    public var names: [String] { entries.map(\.name) }

    /// Number of proteins.
    public var count: Int { entries.count }

    /// True when the store holds `name`.
    public func contains(_ name: String) -> Bool { rowOfName[name] != nil }

    /// Metadata row of `name`, if present.
    public func entry(_ name: String) -> SeqDanceEntry? { rowOfName[name].map { entries[$0] } }

    /// Names filtered by kind and/or source (nil = any), in file order.
    public func names(kind: SeqDanceFeatureKind? = nil, source: String? = nil) -> [String] {
        entries.filter { (kind == nil || $0.kind == kind) && (source == nil || $0.source == source) }.map(\.name)
    }

    // MARK: reading

    /// Reads a protein's token-space features with validated shapes:
    /// residue [L+2, Cr], pair [L+2, L+2, Cp], L = metadata length = token count of the sequence.
    public func read(_ name: String) throws -> SeqDanceRecord {
        guard let row = rowOfName[name] else {
            throw HDF5Error(.notFound, file: path, object: "/" + Self.residueDatasetName(name), "protein '\(name)' is not in the store")
        }
        let meta = entries[row]
        let resPath = Self.residueDatasetName(name), pairPath = Self.pairDatasetName(name)
        let residue = try file.read(resPath, as: Float.self)
        let pair = try file.read(pairPath, as: Float.self)
        let L = meta.length, T = meta.length + 2
        guard residue.shape == [T, meta.kind.residueChannels] else {
            throw layoutError("/" + resPath, "shape \(residue.shape), expected [\(T), \(meta.kind.residueChannels)] for \(meta.kind.rawValue) with L=\(L)")
        }
        guard pair.shape == [T, T, meta.kind.pairChannels] else {
            throw layoutError("/" + pairPath, "shape \(pair.shape), expected [\(T), \(T), \(meta.kind.pairChannels)] for \(meta.kind.rawValue) with L=\(L)")
        }
        if !meta.sequence.isEmpty, SeqDanceTokenSpace.tokenCount(meta.sequence) != L {
            throw layoutError("/" + resPath, "sequence has \(SeqDanceTokenSpace.tokenCount(meta.sequence)) tokens but the features have L=\(L)")
        }
        return SeqDanceRecord(residue: residue, pair: pair, metadata: meta)
    }

    // MARK: writing

    /// Writes one protein from per-residue [L, Cr] and per-pair [L, L, Cp] features, embedding
    /// them into token space. L is the token count of `sequence`; its `<...>` tokens and
    /// `extraSpecialPositions` (token indices 1...L) become -1 rows/columns too.
    /// An existing protein is replaced only when `overwrite` is true, else `alreadyExists`.
    /// Not transactional: a failure after the residue dataset was written leaves it in place.
    public func write(protein name: String, residue: HDF5Array<Float>, pair: HDF5Array<Float>,
                      kind: SeqDanceFeatureKind, sequence: String, source: String,
                      extraSpecialPositions: [Int] = [], overwrite: Bool = false) throws {
        let L = SeqDanceTokenSpace.tokenCount(sequence)
        let resPath = "/" + Self.residueDatasetName(name), pairPath = "/" + Self.pairDatasetName(name)
        guard residue.shape == [L, kind.residueChannels] else {
            throw HDF5Error(.shapeMismatch, file: path, object: resPath,
                            "residue features \(residue.shape), expected [\(L), \(kind.residueChannels)] (L from the sequence, \(kind.rawValue))")
        }
        guard pair.shape == [L, L, kind.pairChannels] else {
            throw HDF5Error(.shapeMismatch, file: path, object: pairPath,
                            "pair features \(pair.shape), expected [\(L), \(L), \(kind.pairChannels)] (L from the sequence, \(kind.rawValue))")
        }
        let special = SeqDanceTokenSpace.specialPositions(in: sequence) + extraSpecialPositions
        if let bad = extraSpecialPositions.first(where: { !(1 ... max(L, 1)).contains($0) || L == 0 }) {
            throw HDF5Error(.invalidArgument, file: path, object: resPath, "special position \(bad) outside token range 1...\(L)")
        }
        try writeTokenSpace(protein: name, residue: SeqDanceTokenSpace.embedResidue(residue, specialPositions: special),
                            pair: SeqDanceTokenSpace.embedPair(pair, specialPositions: special),
                            kind: kind, sequence: sequence, source: source, overwrite: overwrite)
    }

    /// Writes one protein already in token space: residue [L+2, Cr], pair [L+2, L+2, Cp],
    /// with -1 in the BOS/EOS rows (and columns). L must equal the token count of `sequence`.
    public func writeTokenSpace(protein name: String, residue: HDF5Array<Float>, pair: HDF5Array<Float>,
                                kind: SeqDanceFeatureKind, sequence: String, source: String, overwrite: Bool = false) throws {
        let resPath = Self.residueDatasetName(name), pairPath = Self.pairDatasetName(name)
        guard !name.isEmpty, !name.contains("/"), !name.utf8.contains(0), name != "." else {
            throw HDF5Error(.invalidArgument, file: path, object: "/" + resPath, "protein name '\(name)' must be non-empty without '/'")
        }
        guard file.isWritable else { throw HDF5Error(.writeFailed, file: path, object: "/" + resPath, "store is open read-only") }
        let L = SeqDanceTokenSpace.tokenCount(sequence), T = L + 2
        guard residue.shape == [T, kind.residueChannels] else {
            throw HDF5Error(.shapeMismatch, file: path, object: "/" + resPath,
                            "token-space residue features \(residue.shape), expected [\(T), \(kind.residueChannels)]")
        }
        guard pair.shape == [T, T, kind.pairChannels] else {
            throw HDF5Error(.shapeMismatch, file: path, object: "/" + pairPath,
                            "token-space pair features \(pair.shape), expected [\(T), \(T), \(kind.pairChannels)]")
        }
        try checkBorders(residue, pair, resPath: "/" + resPath, pairPath: "/" + pairPath)
        let existingRow = rowOfName[name]
        let datasetsExist = file.exists(resPath) || file.exists(pairPath)
        if (existingRow != nil || datasetsExist) && !overwrite {
            throw HDF5Error(.alreadyExists, file: path, object: "/" + resPath,
                            "protein '\(name)' is already in the store (pass overwrite: true to replace it)")
        }
        try file.write(resPath, residue, options: featureOptions, overwrite: overwrite)
        try file.write(pairPath, pair, options: featureOptions, overwrite: overwrite)
        let entry = SeqDanceEntry(name: name, sequence: sequence, source: source, kind: kind, length: L)
        let meta = try file.group(Self.metadataGroup)
        if let row = existingRow {
            try meta.dataset("sequence").replaceStrings(start: row, [sequence])
            try meta.dataset("source").replaceStrings(start: row, [source])
            try meta.dataset("kind").replaceStrings(start: row, [kind.rawValue])
            try meta.dataset("length").replaceRows(start: row, [Int64(L)], rows: 1)
            entries[row] = entry
        } else {
            try appendMetadata([entry], to: meta)
            rowOfName[name] = entries.count
            entries.append(entry)
        }
    }

    /// Flushes buffered writes to disk.
    public func flush() throws { try file.flush() }

    /// Closes the file now (otherwise when the store is released).
    public func close() { file.close() }

    // MARK: metadata

    private func rebuildIndex() {
        rowOfName = [:]
        for (i, e) in entries.enumerated() { rowOfName[e.name] = i }
    }

    private func layoutError(_ object: String, _ message: String) -> HDF5Error {
        HDF5Error(.invalidLayout, file: path, object: object, message)
    }

    private func loadMetadata() throws {
        let meta = try file.group(Self.metadataGroup)
        let names = try meta.readStrings("name").values
        let sequences = try meta.readStrings("sequence").values
        let sources = try meta.readStrings("source").values
        let kinds = try meta.readStrings("kind").values
        let lengths = try meta.read("length", as: Int64.self).values
        guard [sequences.count, sources.count, kinds.count, lengths.count].allSatisfy({ $0 == names.count }) else {
            throw layoutError("/" + Self.metadataGroup, "metadata columns have different lengths: name \(names.count), sequence \(sequences.count), source \(sources.count), kind \(kinds.count), length \(lengths.count)")
        }
        var out = [SeqDanceEntry]()
        out.reserveCapacity(names.count)
        for i in names.indices {
            guard let kind = SeqDanceFeatureKind(rawValue: kinds[i]) else {
                throw layoutError("/\(Self.metadataGroup)/kind", "row \(i) ('\(names[i])'): unknown kind '\(kinds[i])' (expected md or nma)")
            }
            out.append(SeqDanceEntry(name: names[i], sequence: sequences[i], source: sources[i], kind: kind, length: Int(lengths[i])))
        }
        entries = out
        rebuildIndex()
        guard rowOfName.count == entries.count else {
            throw layoutError("/\(Self.metadataGroup)/name", "duplicate protein names in the metadata")
        }
    }

    /// Entries for a file without /metadata: every `NAME_res_feature` with its `NAME_pair_feature`.
    private func scanRoot() throws -> [SeqDanceEntry] {
        let suffix = "_res_feature"
        var out = [SeqDanceEntry]()
        for child in try file.childNames() where child.hasSuffix(suffix) {
            let name = String(child.dropLast(suffix.count))
            let res = try file.dataset(child).shape()
            let pairName = Self.pairDatasetName(name)
            guard file.exists(pairName) else { throw layoutError("/" + pairName, "missing (residue features exist for '\(name)')") }
            let pair = try file.dataset(pairName).shape()
            guard res.count == 2, pair.count == 3, res[0] >= 2, pair[0] == res[0], pair[1] == res[0],
                  let kind = SeqDanceFeatureKind(residueChannels: res[1], pairChannels: pair[2]) else {
                throw layoutError("/" + child, "shapes \(res) and \(pair) are not a SeqDance md or nma pair")
            }
            out.append(SeqDanceEntry(name: name, sequence: "", source: "", kind: kind, length: res[0] - 2))
        }
        return out
    }

    private func createMetadata(backfill: [SeqDanceEntry]) throws {
        try file.setAttribute("layout", Self.layoutName)
        try file.setAttribute("layout_version", Self.layoutVersion)
        let meta = try file.createGroup(Self.metadataGroup)
        let opts = HDF5DatasetOptions(extendable: true)
        for column in ["name", "sequence", "source", "kind"] {
            try meta.writeStrings(column, [], options: opts)
        }
        try meta.write("length", [Int64](), shape: [0], options: opts)
        try appendMetadata(backfill, to: meta)
    }

    private func appendMetadata(_ rows: [SeqDanceEntry], to meta: HDF5Group) throws {
        guard !rows.isEmpty else { return }
        try meta.dataset("name").appendStrings(rows.map(\.name))
        try meta.dataset("sequence").appendStrings(rows.map(\.sequence))
        try meta.dataset("source").appendStrings(rows.map(\.source))
        try meta.dataset("kind").appendStrings(rows.map(\.kind.rawValue))
        try meta.dataset("length").append(rows.map { Int64($0.length) }, rows: rows.count)
    }

    /// Token-space borders (rows 0 and L+1, and the same pair columns) must be -1.
    private func checkBorders(_ residue: HDF5Array<Float>, _ pair: HDF5Array<Float>, resPath: String, pairPath: String) throws {
        let T = residue.shape[0], Cr = residue.shape[1], Cp = pair.shape[2]
        for r in [0, T - 1] {
            for c in 0 ..< Cr where residue.values[r * Cr + c] != SeqDanceTokenSpace.invalid {
                throw layoutError(resPath, "row \(r) (\(r == 0 ? "BOS" : "EOS")) must be -1, found \(residue.values[r * Cr + c]) in column \(c)")
            }
        }
        for a in 0 ..< T {
            for b in [0, T - 1] {
                for c in 0 ..< Cp {
                    let rowValue = pair.values[(b * T + a) * Cp + c], colValue = pair.values[(a * T + b) * Cp + c]
                    if rowValue != SeqDanceTokenSpace.invalid || colValue != SeqDanceTokenSpace.invalid {
                        throw layoutError(pairPath, "row/column \(b) (\(b == 0 ? "BOS" : "EOS")) must be -1 (at \(a), channel \(c))")
                    }
                }
            }
        }
    }
}

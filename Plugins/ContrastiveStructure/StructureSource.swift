import Foundation
import PLMData
import PLMKit
import PLMStructure

/// A structure file or list that cannot become examples.
public enum StructureSourceError: Error, CustomStringConvertible, Equatable {
    case noFiles(path: String)
    case listLine(file: String, line: Int, message: String)
    case missingChain(file: String, chain: String, available: [String])
    case noProteinChain(file: String, chain: String)
    case duplicateID(id: String, first: String, second: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noFiles(p): return "\(p): no .pdb, .ent, .cif or .mmcif files"
        case let .listLine(f, l, m): return "\(f):\(l): \(m)"
        case let .missingChain(f, c, a): return "\(f): no chain '\(c)' (chains: \(a.isEmpty ? "none" : a.joined(separator: ", ")))"
        case let .noProteinChain(f, c): return "\(f): chain '\(c)' has no amino-acid residue with a CA atom"
        case let .duplicateID(id, a, b): return "example id '\(id)' comes from both \(a) and \(b); keep one of the files"
        case let .unreadable(p, r): return "\(p): \(r)"
        }
    }
}

/// `kind: structures` — protein chains from PDB / mmCIF files, for structure-aware targets.
///
/// `path` is a directory (every `.pdb`, `.ent`, `.cif`, `.mmcif` in it, sorted
/// by file name) or a list file: one structure per line, `FILE [CHAIN]`
/// (relative to the list's folder; `#` starts a comment). `chain` restricts
/// every file to one chain; without it (and without a chain in the list) each
/// protein chain of the file's first model is its own example, id
/// `<file stem>_<chain>` (`<file stem>` for a blank chain id). `max_structures`
/// keeps the first N files.
///
/// An example holds the chain's amino-acid residues that have a CA atom: a
/// residue without one (e.g. a trace with a missing CA) is dropped from the
/// sequence and the coordinates alike, so residue k of the tokens is CA row k.
/// Nucleotides, waters and ligands are never residues; non-standard amino
/// acids map to their parent letter (MSE -> M) or `X`. Alternate locations:
/// the highest-occupancy conformer.
///
/// The coordinates are the feature `ca` [T, 3] (Angstrom) in token space:
/// row 0 (BOS) and row T-1 (EOS) are 0 and stand for no atom. They live in
/// `features`, not `extras`, because `Example.cropped` — which the trainer
/// applies to examples longer than `max_length` — crops features only.
public struct StructureSourceConfig: DataSourcePluginConfig {
    public static let category = PluginCategory.dataSource
    /// The feature key of the CA coordinates.
    public static let caFeature = "ca"
    public var name: String
    public var path: RecipePath
    public var chain: String?
    public var weight: Float
    public var group: String
    public var validationFraction: Double
    public var maxStructures: Int?

    enum CodingKeys: String, CodingKey {
        case name, path, chain, weight, group, validationFraction = "validation_fraction", maxStructures = "max_structures"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let common = try DataSourceCommon(from: decoder)
        name = common.name; weight = common.weight; group = common.group; validationFraction = common.validationFraction
        path = try c.decode(RecipePath.self, forKey: .path)
        chain = try c.decodeIfPresent(String.self, forKey: .chain)
        maxStructures = try c.decodeIfPresent(Int.self, forKey: .maxStructures)
        if let m = maxStructures, m < 1 { throw recipeError(decoder, key: CodingKeys.maxStructures, "must be at least 1, got \(m)") }
    }

    public init(name: String, path: String, chain: String? = nil, maxStructures: Int? = nil) {
        self.name = name; self.path = RecipePath(path); self.chain = chain
        weight = 1; group = name; validationFraction = 0; self.maxStructures = maxStructures
    }

    public func makeSource(_ ctx: BuildContext) throws -> DataSource {
        var entries = try Self.listEntries(path.url)
        if let m = maxStructures { entries = Array(entries.prefix(m)) }
        var examples: [Example] = []
        var origin: [String: String] = [:]
        for (file, listChain) in entries {
            for e in try Self.examples(file: file, chain: listChain ?? chain, log: ctx.log) {
                if let first = origin[e.id] { throw StructureSourceError.duplicateID(id: e.id, first: first, second: file.path) }
                origin[e.id] = file.path
                examples.append(e)
            }
        }
        return InMemorySource(name: name, examples: examples)
    }

    static let structureExtensions: Set<String> = ["pdb", "ent", "cif", "mmcif"]

    /// (file, chain from the list) pairs of a directory or list file.
    public static func listEntries(_ url: URL) throws -> [(URL, String?)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw StructureSourceError.unreadable(path: url.path, reason: "no such file or directory")
        }
        if isDir.boolValue {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: url.path) } catch {
                throw StructureSourceError.unreadable(path: url.path, reason: error.localizedDescription)
            }
            let files = names.filter { structureExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            if files.isEmpty { throw StructureSourceError.noFiles(path: url.path) }
            return files.map { (url.appendingPathComponent($0), nil) }
        }
        if structureExtensions.contains(url.pathExtension.lowercased()) { return [(url, nil)] }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw StructureSourceError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        let base = url.deletingLastPathComponent()
        var out: [(URL, String?)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            if fields.count > 2 { throw StructureSourceError.listLine(file: url.path, line: i + 1, message: "expected 'FILE [CHAIN]', got \(fields.count) fields") }
            let f = fields[0].hasPrefix("/") ? URL(fileURLWithPath: fields[0]) : base.appendingPathComponent(fields[0])
            if !structureExtensions.contains(f.pathExtension.lowercased()) {
                throw StructureSourceError.listLine(file: url.path, line: i + 1, message: "'\(fields[0])' is not a .pdb, .ent, .cif or .mmcif file")
            }
            out.append((f.standardizedFileURL, fields.count == 2 ? fields[1] : nil))
        }
        if out.isEmpty { throw StructureSourceError.noFiles(path: url.path) }
        return out
    }

    /// The examples of one file: `chain` only, or every protein chain of the first model.
    public static func examples(file: URL, chain: String?, log: (String) -> Void = { _ in }) throws -> [Example] {
        let structure = try Structure.read(contentsOf: file, options: StructureReadOptions(firstModelOnly: true))
        let model = structure.firstModel
        let stem = file.deletingPathExtension().lastPathComponent
        let tokenizer = Tokenizer()
        var out: [Example] = []
        let chains: [String]
        if let c = chain {
            guard model.chain(c) != nil else { throw StructureSourceError.missingChain(file: file.path, chain: c, available: model.chainIDs) }
            chains = [c]
        } else {
            chains = model.chainIDs
        }
        for c in chains {
            let (sequence, ca) = residues(model, chain: c)
            if sequence.isEmpty {
                if chain != nil { throw StructureSourceError.noProteinChain(file: file.path, chain: c) }
                continue  // nucleic acid, ligand or water chain
            }
            let id = c.isEmpty ? stem : "\(stem)_\(c)"
            var e = Example(id: id, tokens: try tokenizer.encode(sequence, id: id))
            e.features[caFeature] = FeatureArray(shape: [ca.count / 3 + 2, 3], values: [0, 0, 0] + ca + [0, 0, 0])
            out.append(e)
        }
        if out.isEmpty { log("\(file.path): no protein chain; skipped") }
        return out
    }

    /// One-letter sequence and CA coordinates [L * 3] of a chain's amino acids that have a CA atom.
    public static func residues(_ model: StructureModel, chain id: String) -> (String, [Float]) {
        guard let c = model.chain(id) else { return ("", []) }
        var letters = String.UnicodeScalarView()
        var ca: [Float] = []
        for ri in c.residueIndices {
            let r = model.residues[ri]
            guard r.kind == .aminoAcid, let letter = r.oneLetterCode, let ai = model.atomIndex(named: "CA", inResidue: ri) else { continue }
            letters.append(contentsOf: letter.unicodeScalars)
            let p = model.atoms[ai].positionFloat
            ca += [p.x, p.y, p.z]
        }
        return (String(letters), ca)
    }
}

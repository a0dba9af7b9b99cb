import ContrastiveStructure
import Foundation
import PLMData
import PLMKit

/// `kind: labelled_structures` — a `structures` source (`path`, `chain`,
/// `max_structures`; example ids `<file stem>_<chain>`) whose examples also
/// carry a multi-label vector from a CSV (`labels_path`, comma-separated,
/// header row, no quoting): column `id_column` (default `id`) names the
/// example, column `column` (default `labels`) lists its labels separated by
/// `separator` (`;`), each one of `classes`. The multi-hot vector [classes]
/// goes into the example's extras under `key` (default: `column`), where the
/// Downstream `classification` target (`multi_label: true`, `key:`) reads it.
/// Every structure needs a row; rows without a structure are ignored.
public struct LabelledStructuresConfig: DataSourcePluginConfig {
    public static let category = PluginCategory.dataSource
    /// The `structures` source these examples come from (its keys, decoded and checked by it).
    public var structures: StructureSourceConfig
    public var name: String { structures.name }
    public var path: RecipePath { structures.path }
    public var chain: String? { structures.chain }
    public var maxStructures: Int? { structures.maxStructures }
    public var weight: Float { structures.weight }
    public var group: String { structures.group }
    public var validationFraction: Double { structures.validationFraction }
    public var labelsPath: RecipePath
    public var idColumn: String
    public var column: String
    public var key: String
    public var classes: [String]
    public var separator: String

    enum CodingKeys: String, CodingKey {
        case name, path, chain, maxStructures = "max_structures", labelsPath = "labels_path", idColumn = "id_column"
        case column, key, classes, separator, weight, group, validationFraction = "validation_fraction"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        structures = try StructureSourceConfig(from: decoder)   // name, path, chain, max_structures and the common keys
        labelsPath = try c.decode(RecipePath.self, forKey: .labelsPath)
        idColumn = try c.decodeIfPresent(String.self, forKey: .idColumn) ?? "id"
        column = try c.decodeIfPresent(String.self, forKey: .column) ?? "labels"
        key = try c.decodeIfPresent(String.self, forKey: .key) ?? column
        classes = try c.decode([String].self, forKey: .classes)
        separator = try c.decodeIfPresent(String.self, forKey: .separator) ?? ";"
        if classes.isEmpty || Set(classes).count != classes.count { throw recipeError(decoder, key: CodingKeys.classes, "must be a non-empty list of distinct names") }
        if separator.isEmpty || separator == "," { throw recipeError(decoder, key: CodingKeys.separator, "must be non-empty and not ','") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(path, forKey: .path); try c.encodeIfPresent(chain, forKey: .chain)
        try c.encodeIfPresent(maxStructures, forKey: .maxStructures); try c.encode(labelsPath, forKey: .labelsPath)
        try c.encode(idColumn, forKey: .idColumn); try c.encode(column, forKey: .column); try c.encode(key, forKey: .key)
        try c.encode(classes, forKey: .classes); try c.encode(separator, forKey: .separator); try c.encode(weight, forKey: .weight)
        try c.encode(group, forKey: .group); try c.encode(validationFraction, forKey: .validationFraction)
    }

    public func makeSource(_ ctx: BuildContext) throws -> DataSource {
        let structures = try self.structures.makeSource(ctx)
        let table = try labelTable()
        var examples: [Example] = []
        for i in 0..<structures.count {
            var e = try structures.example(at: i)
            guard let v = table[e.id] else { throw TrainingError.plugin("labelled_structures '\(name)': \(labelsPath.path) has no row for '\(e.id)'") }
            e.extras[key] = v
            examples.append(e)
        }
        return InMemorySource(name: name, examples: examples)
    }

    /// id -> multi-hot vector.
    func labelTable() throws -> [String: [Float]] {
        let text: String
        do { text = try String(contentsOf: labelsPath.url, encoding: .utf8) } catch {
            throw TrainingError.plugin("labelled_structures '\(name)': cannot read \(labelsPath.path): \(error.localizedDescription)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }),
              let ic = header.firstIndex(of: idColumn), let lc = header.firstIndex(of: column) else {
            throw TrainingError.plugin("labelled_structures '\(name)': \(labelsPath.path) needs a header with columns '\(idColumn)' and '\(column)'")
        }
        var out: [String: [Float]] = [:]
        for (n, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let at = "\(labelsPath.path):\(n + 2)"
            guard f.count == header.count else { throw TrainingError.plugin("\(at): \(f.count) fields, the header has \(header.count)") }
            var v = [Float](repeating: 0, count: classes.count)
            for l in f[lc].components(separatedBy: separator).map({ $0.trimmingCharacters(in: .whitespaces) }) where !l.isEmpty {
                guard let k = classes.firstIndex(of: l) else { throw TrainingError.plugin("\(at): label '\(l)' is not one of \(classes)") }
                v[k] = 1
            }
            if out[f[ic]] != nil { throw TrainingError.plugin("\(at): duplicate id '\(f[ic])'") }
            out[f[ic]] = v
        }
        return out
    }
}

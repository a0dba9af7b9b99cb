import Foundation
import PLMData
import PLMKit

// `kind: labelled_csv` — sequences with downstream labels.
//
// Where labels live in an `Example` (the contract with the targets):
// - per-residue labels: `features[key]`, a FeatureArray [T, 1] in token space
//   holding class indices, -1 at BOS/EOS and at unlabelled residues. The
//   trainer's random crop keeps them aligned (token-space arrays are cropped
//   with the tokens).
// - protein-level labels: `extras[key]` ([Float]), never cropped: `class` ->
//   [index] (-1 = missing), `multilabel` -> multi-hot [C], `regression` ->
//   one value per column. They stay out of `features` on purpose: cropping
//   (`Example.cropped` -> `FeatureArray.selectingTokens`) indexes the first
//   dimension of every feature array by token position, which would garble
//   (or trap on) a [1, C] or [C] array.

/// One protein-level label set of a `labelled_csv` source.
public struct ProteinLabelSpec: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case `class`, multilabel, regression }
    /// Name under `Example.extras` (targets select it with their `key`).
    public var key: String
    /// Columns read: one for `class` / `multilabel`, one or more for `regression`.
    public var columns: [String]
    public var type: Kind
    /// Class names in index order (`class`, `multilabel`); default: sorted distinct values of the whole file.
    public var classes: [String]?
    /// Separator of a `multilabel` cell (`GO:1;GO:2`).
    public var separator: String

    enum CodingKeys: String, CodingKey { case key, column, columns, type, classes, separator }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let one = try c.decodeIfPresent(String.self, forKey: .column)
        let many = try c.decodeIfPresent([String].self, forKey: .columns)
        switch (one, many) {
        case let (o?, nil): columns = [o]
        case let (nil, m?) where !m.isEmpty: columns = m
        default: throw recipeError(decoder, key: CodingKeys.column, "give exactly one of 'column' or 'columns' (non-empty)")
        }
        key = try c.decodeIfPresent(String.self, forKey: .key) ?? columns[0]
        let t = try c.decodeIfPresent(String.self, forKey: .type) ?? "class"
        guard let kind = Kind(rawValue: t) else { throw recipeError(decoder, key: CodingKeys.type, "must be class, multilabel or regression, got '\(t)'") }
        type = kind
        classes = try c.decodeIfPresent([String].self, forKey: .classes)
        separator = try c.decodeIfPresent(String.self, forKey: .separator) ?? ";"
        if type != .regression && columns.count != 1 { throw recipeError(decoder, key: CodingKeys.columns, "\(t) labels read one column") }
        if let cl = classes, cl.isEmpty || Set(cl).count != cl.count { throw recipeError(decoder, key: CodingKeys.classes, "must be a non-empty list of distinct names") }
        if separator.isEmpty { throw recipeError(decoder, key: CodingKeys.separator, "must not be empty") }
    }

    public init(key: String, columns: [String], type: Kind, classes: [String]? = nil, separator: String = ";") {
        self.key = key; self.columns = columns; self.type = type; self.classes = classes; self.separator = separator
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        if columns.count == 1 { try c.encode(columns[0], forKey: .column) } else { try c.encode(columns, forKey: .columns) }
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(classes, forKey: .classes)
        try c.encode(separator, forKey: .separator)
    }
}

/// One per-residue label set: a string column aligned with the sequence (`HHHEEECCC`).
public struct ResidueLabelSpec: Codable, Equatable, Sendable {
    /// Name under `Example.features`.
    public var key: String
    public var column: String
    /// One character per class, in index order (`HEC`); default: sorted distinct characters of the file.
    public var classes: String?
    /// Characters meaning "no label" (-1, ignored by the loss).
    public var ignore: String

    enum CodingKeys: String, CodingKey { case key, column, classes, ignore }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        column = try c.decode(String.self, forKey: .column)
        key = try c.decodeIfPresent(String.self, forKey: .key) ?? column
        classes = try c.decodeIfPresent(String.self, forKey: .classes)
        ignore = try c.decodeIfPresent(String.self, forKey: .ignore) ?? "-"
        if let cl = classes, cl.isEmpty || Set(cl).count != cl.count { throw recipeError(decoder, key: CodingKeys.classes, "must be distinct characters, one per class") }
        if let cl = classes, !Set(cl).isDisjoint(with: ignore) { throw recipeError(decoder, key: CodingKeys.ignore, "shares characters with classes") }
    }
}

/// `kind: labelled_csv` — a CSV/TSV with id, sequence and label columns, or a
/// FASTA file (`path`) plus a CSV/TSV of labels by id (`labels_path`).
public struct LabelledSourceConfig: DataSourcePluginConfig {
    public static let category = PluginCategory.dataSource
    public var name: String
    public var path: RecipePath
    public var labelsPath: RecipePath?
    public var weight: Float
    public var group: String
    /// `validation_fraction` as written (a hash split; 0 with `holdout_split`).
    public var holdoutFraction: Double
    public var maxRecords: Int?
    public var idColumn: String
    public var sequenceColumn: String
    /// Field separator; default `\t` for `.tsv` files, `,` otherwise.
    public var delimiter: String?
    public var labels: [ProteinLabelSpec]
    public var residueLabels: [ResidueLabelSpec]
    public var splitColumn: String
    /// Splits served (rows whose `split_column` value is listed); nil = all rows.
    public var split: [String]?
    /// Splits served as held-out examples (the trainer's validation set).
    public var holdoutSplit: [String]?
    /// Splits served as test examples: never trained on nor used to pick the
    /// best checkpoint; evaluated at the end of the run (and by `plm evaluate`).
    public var testSplit: [String]?

    /// The trainer's hash split; with `holdout_split` the source marks its
    /// held-out rows itself (`DataSource.isHeldOut`) and this is 0.
    public var validationFraction: Double { holdoutFraction }

    enum CodingKeys: String, CodingKey {
        case name, path, labelsPath = "labels_path", weight, group, validationFraction = "validation_fraction"
        case maxRecords = "max_records", idColumn = "id_column", sequenceColumn = "sequence_column", delimiter
        case labels, residueLabels = "residue_labels", splitColumn = "split_column", split, holdoutSplit = "holdout_split"
        case testSplit = "test_split"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let common = try DataSourceCommon(from: decoder)
        name = common.name; weight = common.weight; group = common.group; holdoutFraction = common.validationFraction
        path = try c.decode(RecipePath.self, forKey: .path)
        labelsPath = try c.decodeIfPresent(RecipePath.self, forKey: .labelsPath)
        maxRecords = try c.decodeIfPresent(Int.self, forKey: .maxRecords)
        idColumn = try c.decodeIfPresent(String.self, forKey: .idColumn) ?? "id"
        sequenceColumn = try c.decodeIfPresent(String.self, forKey: .sequenceColumn) ?? "sequence"
        delimiter = try c.decodeIfPresent(String.self, forKey: .delimiter)
        labels = try c.decodeIfPresent([ProteinLabelSpec].self, forKey: .labels) ?? []
        residueLabels = try c.decodeIfPresent([ResidueLabelSpec].self, forKey: .residueLabels) ?? []
        splitColumn = try c.decodeIfPresent(String.self, forKey: .splitColumn) ?? "split"
        split = try Self.decodeNames(c, .split)
        holdoutSplit = try Self.decodeNames(c, .holdoutSplit)
        testSplit = try Self.decodeNames(c, .testSplit)
        if holdoutSplit != nil && holdoutFraction > 0 {
            throw recipeError(decoder, key: CodingKeys.holdoutSplit, "use either holdout_split (explicit split) or validation_fraction (hash split), not both")
        }
        if let d = delimiter, d.utf8.count != 1 { throw recipeError(decoder, key: CodingKeys.delimiter, "must be one character") }
        let keys = labels.map(\.key) + residueLabels.map(\.key)
        if Set(keys).count != keys.count { throw recipeError(decoder, key: CodingKeys.labels, "label keys must be distinct: \(keys)") }
        if let s = split, let h = holdoutSplit, !Set(s).isDisjoint(with: h) {
            throw recipeError(decoder, key: CodingKeys.holdoutSplit, "names a split that `split` also serves for training")
        }
        if let t = testSplit {
            if let s = split, !Set(s).isDisjoint(with: t) {
                throw recipeError(decoder, key: CodingKeys.testSplit, "names a split that `split` also serves for training")
            }
            if let h = holdoutSplit, !Set(h).isDisjoint(with: t) {
                throw recipeError(decoder, key: CodingKeys.testSplit, "names a split that `holdout_split` also serves for validation")
            }
        }
    }

    static func decodeNames(_ c: KeyedDecodingContainer<CodingKeys>, _ k: CodingKeys) throws -> [String]? {
        if let s = try? c.decodeIfPresent(String.self, forKey: k) { return [s] }
        return try c.decodeIfPresent([String].self, forKey: k)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(path, forKey: .path)
        try c.encodeIfPresent(labelsPath, forKey: .labelsPath)
        try c.encode(weight, forKey: .weight)
        try c.encode(group, forKey: .group)
        try c.encode(holdoutFraction, forKey: .validationFraction)
        try c.encodeIfPresent(maxRecords, forKey: .maxRecords)
        try c.encode(idColumn, forKey: .idColumn)
        try c.encode(sequenceColumn, forKey: .sequenceColumn)
        try c.encodeIfPresent(delimiter, forKey: .delimiter)
        try c.encode(labels, forKey: .labels)
        try c.encode(residueLabels, forKey: .residueLabels)
        try c.encode(splitColumn, forKey: .splitColumn)
        try c.encodeIfPresent(split, forKey: .split)
        try c.encodeIfPresent(holdoutSplit, forKey: .holdoutSplit)
        try c.encodeIfPresent(testSplit, forKey: .testSplit)
    }

    public func makeSource(_ ctx: BuildContext) throws -> DataSource {
        let (examples, splits) = try LabelledTable.load(self).examples(self, log: ctx.log)
        return InMemorySource(name: name, examples: examples, splits: splits)
    }
}

/// Errors reading a labelled file; each names the file and the row or column.
public struct LabelledDataError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    init(_ m: String) { message = m }
}

/// Rows of a labelled file as column -> value maps (before label parsing).
struct LabelledTable {
    var file: String
    var rows: [[String: String]]
    /// 1-based line of each row (error messages).
    var lines: [Int]

    static func load(_ c: LabelledSourceConfig) throws -> LabelledTable {
        let url = c.path.url
        let ext = url.pathExtension.lowercased()
        if ["fasta", "fa", "faa", "fas"].contains(ext) {
            guard let lp = c.labelsPath else { throw LabelledDataError("\(url.path): a FASTA source needs labels_path (a CSV/TSV of labels by \(c.idColumn))") }
            let records = try FASTAReader.read(url: url)
            let labels = try table(lp.url, delimiter: c.delimiter)
            var byID: [String: Int] = [:]
            for (i, r) in labels.rows.enumerated() {
                guard let id = r[c.idColumn] else { throw LabelledDataError("\(lp.path): no column '\(c.idColumn)'") }
                if byID[id] != nil { throw LabelledDataError("\(lp.path):\(labels.lines[i]): duplicate id '\(id)'") }
                byID[id] = i
            }
            var out = LabelledTable(file: url.path, rows: [], lines: [])
            for rec in records {
                guard let i = byID[rec.id] else { throw LabelledDataError("\(lp.path): no labels for FASTA record '\(rec.id)'") }
                var row = labels.rows[i]
                row[c.sequenceColumn] = rec.sequence
                out.rows.append(row)
                out.lines.append(rec.line)
            }
            return out
        }
        return try table(url, delimiter: c.delimiter)
    }

    static func table(_ url: URL, delimiter: String?) throws -> LabelledTable {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw LabelledDataError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        let d = delimiter?.utf8.first ?? (url.pathExtension.lowercased() == "tsv" ? UInt8(ascii: "\t") : UInt8(ascii: ","))
        let records = try CSV.parse(text, delimiter: d, file: url.path)
        guard let header = records.first?.fields else { throw LabelledDataError("\(url.path): empty file") }
        if Set(header).count != header.count { throw LabelledDataError("\(url.path): duplicate column names in the header") }
        var out = LabelledTable(file: url.path, rows: [], lines: [])
        for r in records.dropFirst() {
            if r.fields == [""] { continue }  // blank line
            guard r.fields.count == header.count else {
                throw LabelledDataError("\(url.path):\(r.line): \(r.fields.count) fields, the header has \(header.count)")
            }
            out.rows.append(Dictionary(uniqueKeysWithValues: zip(header, r.fields)))
            out.lines.append(r.line)
        }
        return out
    }

    func value(_ row: Int, _ column: String) throws -> String {
        guard let v = rows[row][column] else { throw LabelledDataError("\(file): no column '\(column)'") }
        return v
    }

    /// Examples of the rows the config serves.
    /// The served rows as examples, and per example its split: `.test` in
    /// `test_split`, `.validation` / `.train` when `holdout_split` is given,
    /// else nil (the trainer's hash split with `validation_fraction`).
    func examples(_ c: LabelledSourceConfig, log: (String) -> Void) throws -> ([Example], [ExampleSplit?]) {
        // Class vocabularies come from the whole file, so every split's source agrees.
        var classLists: [String: [String]] = [:]
        for s in c.labels where s.type != .regression {
            if let cl = s.classes { classLists[s.key] = cl; continue }
            var seen = Set<String>()
            for i in rows.indices {
                let v = try value(i, s.columns[0]).trimmingCharacters(in: .whitespaces)
                if s.type == .class { if !v.isEmpty { seen.insert(v) } } else {
                    for p in v.components(separatedBy: s.separator) where !p.trimmingCharacters(in: .whitespaces).isEmpty {
                        seen.insert(p.trimmingCharacters(in: .whitespaces))
                    }
                }
            }
            classLists[s.key] = seen.sorted()
            log("labelled_csv \(c.name): \(s.key) classes (sorted values of the file, give `classes:` to fix them): \(seen.sorted())")
        }
        var residueClasses: [String: [Character]] = [:]
        for s in c.residueLabels {
            if let cl = s.classes { residueClasses[s.key] = Array(cl); continue }
            var seen = Set<Character>()
            for i in rows.indices { for ch in try value(i, s.column) where !s.ignore.contains(ch) { seen.insert(ch) } }
            residueClasses[s.key] = seen.sorted()
            log("labelled_csv \(c.name): \(s.key) residue classes (give `classes:` to fix them): \(String(seen.sorted()))")
        }

        // A split name that matches no row is a typo, not an empty split: say so instead of
        // silently training without validation or test rows.
        if c.split != nil || c.holdoutSplit != nil || c.testSplit != nil {
            var present = Set<String>()
            for i in rows.indices { present.insert(try value(i, c.splitColumn).trimmingCharacters(in: .whitespaces)) }
            for (key, names) in [("split", c.split), ("holdout_split", c.holdoutSplit), ("test_split", c.testSplit)] {
                for n in names ?? [] where !present.contains(n) {
                    throw LabelledDataError("labelled_csv \(c.name): \(key) '\(n)' matches no row of \(file); its \(c.splitColumn) column holds: \(present.sorted().joined(separator: ", "))")
                }
            }
        }
        let tok = Tokenizer()
        var out: [Example] = []
        var splits: [ExampleSplit?] = []
        var ids = Set<String>()
        for i in rows.indices {
            let at = "\(file):\(lines[i])"
            var role: ExampleSplit? = nil
            if c.split != nil || c.holdoutSplit != nil || c.testSplit != nil {
                let s = try value(i, c.splitColumn).trimmingCharacters(in: .whitespaces)
                if c.testSplit?.contains(s) == true { role = .test }
                else if c.holdoutSplit?.contains(s) == true { role = .validation }
                else if !(c.split?.contains(s) ?? true) { continue }
                else if c.holdoutSplit != nil { role = .train }
            }
            let id = try value(i, c.idColumn)
            if id.isEmpty { throw LabelledDataError("\(at): empty \(c.idColumn)") }
            if !ids.insert(id).inserted { throw LabelledDataError("\(at): duplicate id '\(id)'") }
            let seq = try value(i, c.sequenceColumn).trimmingCharacters(in: .whitespaces)
            var e = Example(id: id, tokens: try tok.encode(seq, id: id))
            for s in c.labels { e.extras[s.key] = try proteinLabel(s, classLists[s.key], row: i, at: at) }
            for s in c.residueLabels {
                let str = Array(try value(i, s.column).trimmingCharacters(in: .whitespaces))
                guard e.tokens.count == str.count + 2 else {
                    throw LabelledDataError("\(at): \(s.column) has \(str.count) labels for \(e.tokens.count - 2) residue tokens of '\(id)' (per-residue labels need a single-chain sequence of the same length)")
                }
                let cls = residueClasses[s.key]!
                var v = [Float](repeating: -1, count: e.tokens.count)
                for (k, ch) in str.enumerated() {
                    if s.ignore.contains(ch) { continue }
                    guard let x = cls.firstIndex(of: ch) else {
                        throw LabelledDataError("\(at): \(s.column) position \(k + 1): '\(ch)' is not one of the classes '\(String(cls))'")
                    }
                    v[k + 1] = Float(x)
                }
                e.features[s.key] = FeatureArray(shape: [e.tokens.count, 1], values: v)
            }
            out.append(e)
            splits.append(role)
            if let m = c.maxRecords, out.count >= m { break }
        }
        return (out, splits)
    }

    func proteinLabel(_ s: ProteinLabelSpec, _ classes: [String]?, row i: Int, at: String) throws -> [Float] {
        switch s.type {
        case .class:
            let v = try value(i, s.columns[0]).trimmingCharacters(in: .whitespaces)
            if v.isEmpty { return [-1] }
            guard let x = classes!.firstIndex(of: v) else { throw LabelledDataError("\(at): \(s.columns[0]) '\(v)' is not one of \(classes!)") }
            return [Float(x)]
        case .multilabel:
            var hot = [Float](repeating: 0, count: classes!.count)
            for p in try value(i, s.columns[0]).components(separatedBy: s.separator) {
                let t = p.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { continue }
                guard let x = classes!.firstIndex(of: t) else { throw LabelledDataError("\(at): \(s.columns[0]) label '\(t)' is not one of the classes") }
                hot[x] = 1
            }
            return hot
        case .regression:
            return try s.columns.map { col in
                let v = try value(i, col).trimmingCharacters(in: .whitespaces)
                guard let x = Float(v), x.isFinite else { throw LabelledDataError("\(at): \(col) '\(v)' is not a finite number") }
                return x
            }
        }
    }
}

/// A small RFC 4180 reader: quoted fields may hold the delimiter, `""` and newlines.
enum CSV {
    struct Record { var fields: [String]; var line: Int }

    static func parse(_ text: String, delimiter: UInt8, file: String) throws -> [Record] {
        var out: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false, quoted = false
        var line = 1, recordLine = 1
        let bytes = Array(text.utf8)
        var i = 0
        func endField() { fields.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true); quoted = false }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { inQuotes = false }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") && field.isEmpty && !quoted {
                inQuotes = true; quoted = true
            } else if b == delimiter {
                endField()
            } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                endField()
                out.append(Record(fields: fields, line: recordLine))
                fields = []
                line += 1; recordLine = line
            } else {
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw LabelledDataError("\(file):\(recordLine): unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { endField(); out.append(Record(fields: fields, line: recordLine)) }
        return out
    }
}

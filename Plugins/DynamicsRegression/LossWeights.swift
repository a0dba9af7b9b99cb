import Foundation
import PLMKit

/// The loss-weight table of `dynamics_regression`: weight[column][feature],
/// where a batch's source group picks the column (docs SEQDANCE.md "Loss").
///
/// Recipe forms:
/// ```yaml
/// weights: seqdance            # the published table (default)
/// weights: uniform             # 1 for every feature in every column
/// weights: {rmsf_nor: 1.0, corr: 0.5}            # published table, these features changed in every column
/// weights: {base: uniform, md: {ps: 2.0}, nma: {nma_res1: 4.0}, my_column: {vdw: 1.0}}
/// ```
/// Mapping keys are `base` (seqdance | uniform), feature names (a number: that
/// feature in every column), or column names (a mapping feature -> number; a
/// new column starts from zeros).
public struct LossWeights: Codable, Equatable, Sendable {
    public var base: String
    public var featureOverrides: [String: Float]
    public var columnOverrides: [String: [String: Float]]

    public init(base: String = "seqdance", featureOverrides: [String: Float] = [:], columnOverrides: [String: [String: Float]] = [:]) {
        self.base = base; self.featureOverrides = featureOverrides; self.columnOverrides = columnOverrides
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static let bases = ["seqdance", "uniform"]

    public init(from decoder: Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            guard Self.bases.contains(s) else {
                throw recipeError(decoder, "weights must be one of \(Self.bases.joined(separator: ", ")) or a mapping, got '\(s)'")
            }
            self.init(base: s)
            return
        }
        let c = try decoder.container(keyedBy: AnyKey.self)
        var base = "seqdance"
        var features: [String: Float] = [:], columns: [String: [String: Float]] = [:]
        for key in c.allKeys {
            let k = key.stringValue
            if k == "base" {
                base = try c.decode(String.self, forKey: key)
                guard Self.bases.contains(base) else { throw recipeError(decoder, key: key, "must be one of \(Self.bases.joined(separator: ", "))") }
            } else if SeqDanceSchema.index(of: k) != nil {
                features[k] = try c.decode(Float.self, forKey: key)
            } else {
                let col = try c.nestedContainer(keyedBy: AnyKey.self, forKey: key)
                var m: [String: Float] = [:]
                for f in col.allKeys {
                    guard SeqDanceSchema.index(of: f.stringValue) != nil else {
                        throw recipeError(try c.superDecoder(forKey: key), key: f,
                                          "unknown feature '\(f.stringValue)'; features: \(SeqDanceSchema.featureNames.joined(separator: ", "))")
                    }
                    m[f.stringValue] = try col.decode(Float.self, forKey: f)
                }
                columns[k] = m
            }
        }
        for (k, v) in features where !(v >= 0) { throw recipeError(decoder, key: AnyKey(stringValue: k), "weights must be >= 0") }
        for (_, m) in columns { for (f, v) in m where !(v >= 0) { throw recipeError(decoder, key: AnyKey(stringValue: f), "weights must be >= 0") } }
        self.init(base: base, featureOverrides: features, columnOverrides: columns)
    }

    public func encode(to encoder: Encoder) throws {
        if featureOverrides.isEmpty && columnOverrides.isEmpty {
            var c = encoder.singleValueContainer()
            try c.encode(base)
            return
        }
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(base, forKey: AnyKey(stringValue: "base"))
        for (k, v) in featureOverrides.sorted(by: { $0.key < $1.key }) { try c.encode(v, forKey: AnyKey(stringValue: k)) }
        for (k, m) in columnOverrides.sorted(by: { $0.key < $1.key }) {
            var n = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: k))
            for (f, v) in m.sorted(by: { $0.key < $1.key }) { try n.encode(v, forKey: AnyKey(stringValue: f)) }
        }
    }

    /// The resolved table: column -> feature -> weight (every feature present in every column).
    public func table() -> [String: [String: Float]] {
        var t = base == "uniform" ? SeqDanceSchema.uniformWeights : SeqDanceSchema.publishedWeights
        for (col, m) in columnOverrides where t[col] == nil {
            _ = m
            t[col] = Dictionary(uniqueKeysWithValues: SeqDanceSchema.featureNames.map { ($0, Float(0)) })
        }
        for col in t.keys { for (f, v) in featureOverrides { t[col]![f] = v } }
        for (col, m) in columnOverrides { for (f, v) in m { t[col]![f] = v } }
        return t
    }
}

import Foundation
import PLMData

// The SeqDance feature table: which head column predicts which feature, its
// output activation, how store channels map onto head columns, and the
// published loss weights. Spec: docs SEQDANCE.md ("Heads", "Loss", "Storage
// layout"); the published code keeps the same column order
// (ShenLab/SeqDance model/config.py `res_feature_idx` / `pair_feature_idx`).

/// Output activation of one feature.
public enum DynamicsActivation: String, Sendable, Codable {
    /// `sigmoid` (rmsf_nor, range [0, 1]).
    case sigmoid
    /// Softmax over the feature's bins (ss, chi, phi, psi: frequency vectors).
    case softmax
    /// `Softplus(beta 1, threshold 2)` (non-negative features).
    case softplus
    /// `2·sigmoid − 1` (correlations, range [−1, 1]).
    case signedSigmoid = "signed_sigmoid"
}

/// Whether a feature is predicted per residue or per residue pair.
public enum DynamicsLevel: String, Sendable, Codable { case residue, pair }

/// One predicted feature: a contiguous range of head columns.
public struct DynamicsFeature: Sendable, Equatable {
    public let name: String
    public let level: DynamicsLevel
    /// Head output columns (residue head: 0..<50, pair head: 0..<13).
    public let columns: Range<Int>
    public let activation: DynamicsActivation

    public init(_ name: String, _ level: DynamicsLevel, _ columns: Range<Int>, _ activation: DynamicsActivation) {
        self.name = name; self.level = level; self.columns = columns; self.activation = activation
    }
}

/// The SeqDance heads' output layout and loss-weight table.
public enum SeqDanceSchema {
    /// Residue head width: 47 MD columns + 3 NMA columns.
    public static let residueColumns = 50
    /// Pair head width: 9 interactions + corr + 3 NMA correlations.
    public static let pairColumns = 13

    /// Every feature in loss order: residue features, then pair features.
    public static let features: [DynamicsFeature] = [
        DynamicsFeature("sasa_mean", .residue, 0..<1, .softplus),
        DynamicsFeature("sasa_std", .residue, 1..<2, .softplus),
        DynamicsFeature("rmsf_nor", .residue, 2..<3, .sigmoid),
        DynamicsFeature("ss", .residue, 3..<11, .softmax),
        DynamicsFeature("chi", .residue, 11..<23, .softmax),
        DynamicsFeature("phi", .residue, 23..<35, .softmax),
        DynamicsFeature("psi", .residue, 35..<47, .softmax),
        DynamicsFeature("nma_res1", .residue, 47..<48, .softplus),
        DynamicsFeature("nma_res2", .residue, 48..<49, .softplus),
        DynamicsFeature("nma_res3", .residue, 49..<50, .softplus),
        DynamicsFeature("vdw", .pair, 0..<1, .softplus),
        DynamicsFeature("hbbb", .pair, 1..<2, .softplus),
        DynamicsFeature("hbsb", .pair, 2..<3, .softplus),
        DynamicsFeature("hbss", .pair, 3..<4, .softplus),
        DynamicsFeature("hp", .pair, 4..<5, .softplus),
        DynamicsFeature("sb", .pair, 5..<6, .softplus),
        DynamicsFeature("pc", .pair, 6..<7, .softplus),
        DynamicsFeature("ps", .pair, 7..<8, .softplus),
        DynamicsFeature("ts", .pair, 8..<9, .softplus),
        DynamicsFeature("corr", .pair, 9..<10, .signedSigmoid),
        DynamicsFeature("nma_pair1", .pair, 10..<11, .signedSigmoid),
        DynamicsFeature("nma_pair2", .pair, 11..<12, .signedSigmoid),
        DynamicsFeature("nma_pair3", .pair, 12..<13, .signedSigmoid),
    ]

    public static let featureNames = features.map(\.name)
    public static let residueFeatures = features.filter { $0.level == .residue }
    public static let pairFeatures = features.filter { $0.level == .pair }

    /// Index of a feature in `features`.
    public static func index(of name: String) -> Int? { features.firstIndex { $0.name == name } }

    /// Head columns that one store kind fills: MD store column c -> residue head column c
    /// (c < 47) and pair channel c -> pair head column c (c < 10); NMA store columns
    /// 0..<3 -> residue head 47..<50 and pair head 10..<13.
    public static func residueOffset(_ kind: SeqDanceFeatureKind) -> Int { kind == .md ? 0 : 47 }
    public static func pairOffset(_ kind: SeqDanceFeatureKind) -> Int { kind == .md ? 0 : 10 }

    /// Features a protein of `kind` supervises.
    public static func features(of kind: SeqDanceFeatureKind) -> [Int] {
        features.indices.filter { features[$0].name.hasPrefix("nma_") == (kind == .nma) }
    }

    /// The published loss-weight columns (SEQDANCE.md "Loss"; SeqDance's `loss_weight.csv`).
    public static let weightColumns = ["md", "idrome", "nma"]

    /// The published loss weights, by column then feature (features a column lacks weigh 0).
    public static let publishedWeights: [String: [String: Float]] = {
        let md: [Float] = [0.073041, 0.322492, 0.223793, 0.150150, 0.303766, 0.296824, 0.243907,
                           0.348042, 0.808236, 1.370723, 1.649684, 1.253907, 2.270222, 3.565133, 9.039787, 11.854707, 0.588429]
        let idrome: [Float] = [0.085186, 0.489036, 0.330730, 0.746969, 0.354448, 1.235156, 1.443703,
                               0.430570, 1.058827, 1.248722, 2.149983, 1.771494, 3.241234, 4.454829, 17.344838, 15.784302, 0.447994]
        let mdNames = ["sasa_mean", "sasa_std", "rmsf_nor", "ss", "chi", "phi", "psi",
                       "vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts", "corr"]
        var t: [String: [String: Float]] = ["md": [:], "idrome": [:], "nma": [:]]
        for f in featureNames { t["md"]![f] = 0; t["idrome"]![f] = 0; t["nma"]![f] = 0 }
        for (i, f) in mdNames.enumerated() { t["md"]![f] = md[i]; t["idrome"]![f] = idrome[i] }
        for k in 1...3 { t["nma"]!["nma_res\(k)"] = 16.533815 }
        t["nma"]!["nma_pair1"] = 0.829644
        t["nma"]!["nma_pair2"] = 1.594754
        t["nma"]!["nma_pair3"] = 2.974789
        return t
    }()

    /// Every column set to 1 (a starting point for hand-made tables).
    public static let uniformWeights: [String: [String: Float]] = {
        var t: [String: [String: Float]] = [:]
        for c in weightColumns { t[c] = Dictionary(uniqueKeysWithValues: featureNames.map { ($0, Float(1)) }) }
        return t
    }()

    /// Source groups that name a weight column by default: the column names themselves
    /// and SeqDance's data-source names (metadata `source` values and its loader's groups).
    public static let defaultGroupColumns: [String: String] = [
        "md": "md", "idrome": "idrome", "nma": "nma",
        "atlas": "md", "gpcrmd": "md", "ped": "md", "mdcath": "md", "atlas_gpcrmd_ped_mdcath": "md",
        "proteinflow": "nma", "proteinflow_pdb": "nma", "proteinflow_sabdab": "nma",
    ]
}

import ContrastiveStructure
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMStructure
import PLMTensor

func graphOnlyError(_ kind: String) -> Never {
    preconditionFailure("\(kind): this encoder needs CA coordinates; call encode(batch:request:context:) with examples from a 'structures' source")
}

// MARK: residue_graph

/// `kind: residue_graph` — a GearNet-style structure encoder on its own:
/// residue-type embedding, `layers` relational graph convolutions of width
/// `dim` over the 7-relation residue graph (`radius`, `knn`, `min_separation`).
/// Residue features [B, T, layers·dim] (every layer's output concatenated;
/// BOS/EOS/pad rows 0); protein feature = their sum over residues.
/// Saved as `residue_graph.safetensors` in checkpoint directories.
public final class ResidueGraphEncoder: ProteinFeatureEncoder {
    public let network: ResidueGraphNetwork
    public let settings: GraphSettings
    public var module: Module { network }
    public var hiddenSize: Int { network.dim * network.layers.count }
    public var layerCount: Int { network.layers.count }
    public var headCount: Int { 0 }
    public var proteinFeatureSize: Int { hiddenSize }
    static let fileName = "residue_graph.safetensors"

    public init(network: ResidueGraphNetwork, settings: GraphSettings) { self.network = network; self.settings = settings }

    public func encode(_ tokens: IndexTensor, request: EncoderRequest, context: ForwardContext) -> EsmOutput { graphOnlyError("residue_graph") }

    public func encode(batch: Batch, request: EncoderRequest, context: ForwardContext) throws -> EsmOutput {
        let g = try PackedGraph.build(batch.examples, settings: settings, structureToken: false)
        let hs = network(g)
        let nodes = Tensor.concat(hs, axis: 1)
        let t = batch.tokens.shape[1]
        let x = ResidueGraphNetwork.toTokenSpace(nodes, graph: g, batch: batch.examples.count, tokens: t)
        return EsmOutput(hidden: x, hiddenStates: [], attentions: [])
    }

    public func proteinFeatures(_ output: EsmOutput, tokens: IndexTensor) -> Tensor { output.lastHiddenState.sum(axis: 1) }
    public func lmLogits(_ hidden: Tensor) -> Tensor? { nil }

    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensors.write(network.stateDict(), to: directory.appendingPathComponent(Self.fileName))
    }

    public func load(from directory: URL) throws {
        let f = try SafeTensorsFile(url: directory.appendingPathComponent(Self.fileName))
        network.load(try f.loadParameters(network.expectedShapes(), copy: true))
    }
}

public struct ResidueGraphEncoderConfig: EncoderPluginConfig {
    public static let category = PluginCategory.encoder
    public var layers: Int
    public var dim: Int
    public var graph: GraphSettings

    enum CodingKeys: String, CodingKey { case layers, dim, radius, knn, minSeparation = "min_separation" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? 6
        dim = try c.decodeIfPresent(Int.self, forKey: .dim) ?? 128
        graph = try decodeGraphSettings(c, decoder, radius: .radius, knn: .knn, minSeparation: .minSeparation)
        if layers < 1 { throw recipeError(decoder, key: CodingKeys.layers, "must be at least 1, got \(layers)") }
        if dim < 1 { throw recipeError(decoder, key: CodingKeys.dim, "must be at least 1, got \(dim)") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layers, forKey: .layers); try c.encode(dim, forKey: .dim)
        try c.encode(graph.radius, forKey: .radius); try c.encode(graph.knn, forKey: .knn); try c.encode(graph.minSeparation, forKey: .minSeparation)
    }

    public func makeEncoder(_ ctx: BuildContext) throws -> ProteinEncoder {
        let net = ResidueGraphNetwork(dim: dim, layers: layers, relations: ResidueGraph.relationCount)
        initializeGraphModule(net, seed: ctx.seed ^ 0x4745_4152)  // "GEAR"
        return ResidueGraphEncoder(network: net, settings: graph)
    }
}

func decodeGraphSettings<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ decoder: Decoder, radius: K, knn: K, minSeparation: K) throws -> GraphSettings {
    var s = GraphSettings()
    s.radius = try c.decodeIfPresent(Double.self, forKey: radius) ?? s.radius
    s.knn = try c.decodeIfPresent(Int.self, forKey: knn) ?? s.knn
    s.minSeparation = try c.decodeIfPresent(Int.self, forKey: minSeparation) ?? s.minSeparation
    if !(s.radius >= 0) { throw recipeError(decoder, key: radius, "must be a non-negative distance (Angstrom)") }
    if s.knn < 0 { throw recipeError(decoder, key: knn, "must be at least 0") }
    if s.minSeparation < 0 { throw recipeError(decoder, key: minSeparation, "must be at least 0") }
    return s
}

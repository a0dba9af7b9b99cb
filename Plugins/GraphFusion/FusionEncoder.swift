import ContrastiveStructure
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMStructure
import PLMTensor

/// The graph half of the fusion encoder: children `structure_token` [d],
/// `graph` (residue embedding + K relational convolutions over 8 relations:
/// the residue graph's 7 plus token <-> residue), `to_graph.k` Linear(d, g)
/// and `to_sequence.k` Linear(g, d).
public final class FusionBranch: Module {
    public private(set) var structureToken: Parameter!
    public let graph: ResidueGraphNetwork
    public let toGraph: [Linear], toSequence: [Linear]

    public init(hidden d: Int, graphDim g: Int, injections k: Int) {
        graph = ResidueGraphNetwork(dim: g, layers: k, relations: ResidueGraph.relationCount + 1)
        toGraph = (0..<k).map { _ in Linear(d, g) }
        toSequence = (0..<k).map { _ in Linear(g, d) }
        super.init()
        structureToken = parameter("structure_token", Tensor.zeros([d]))
        child("graph", graph)
        let a = child("to_graph", ModuleGroup()), b = child("to_sequence", ModuleGroup())
        for i in 0..<k { a.child("\(i)", toGraph[i]); b.child("\(i)", toSequence[i]) }
    }

    public func initialize(seed: UInt64) {
        initializeGraphModule(self, seed: seed)
        var rng = RNG(seed: seed ^ 0x544F_4B45)  // "TOKE"
        Init.normal(structureToken, std: 0.02, rng: &rng)
    }
}

/// ESM-2 + GearNet with a structure token (3DProtLM / FusionProt); see `FusionEncoderConfig`.
public final class FusionEncoder: ProteinFeatureEncoder, EsmBackedEncoder {
    public let lm: EsmForMaskedLM
    public let branch: FusionBranch?
    public let settings: GraphSettings
    public let injectEvery: Int
    let root = ModuleGroup()
    static let fileName = "fusion.safetensors"

    public init(lm: EsmForMaskedLM, branch: FusionBranch?, settings: GraphSettings, injectEvery: Int) {
        self.lm = lm; self.branch = branch; self.settings = settings; self.injectEvery = injectEvery
        root.child("model", lm)
        if let b = branch { root.child("fusion", b) }
    }

    public var module: Module { root }
    /// Tuning strategies act on the ESM-2 part; the graph branch and structure token stay trainable.
    public var esmBackbone: EsmForMaskedLM { lm }
    public var esmHiddenSize: Int { lm.config.hiddenSize }
    public var graphFeatureSize: Int { branch.map { $0.graph.dim * $0.graph.layers.count } ?? 0 }
    public var hiddenSize: Int { esmHiddenSize + graphFeatureSize }
    public var layerCount: Int { lm.config.numHiddenLayers }
    public var headCount: Int { lm.config.numAttentionHeads }
    public var proteinFeatureSize: Int { hiddenSize }

    public func encode(_ tokens: IndexTensor, request: EncoderRequest, context: ForwardContext) -> EsmOutput {
        if branch == nil { return plainForward(tokens, request: request, context: context) }
        graphOnlyError("fusion")
    }

    /// ESM-2 run layer by layer (the graph branch off): equals `EsmModel.callAsFunction`.
    func plainForward(_ tokens: IndexTensor, request: EncoderRequest, context: ForwardContext) -> EsmOutput {
        let esm = lm.esm
        let kp = esm.keyPadding(tokens)
        var x = esm.embed(tokens)
        var hidden: [Tensor] = [], attn: [Tensor] = []
        for i in 0..<layerCount {
            if request.hiddenStates { hidden.append(x) }
            let (y, p) = esm.runLayer(i, x, keyPadding: kp, attentions: request.attentions, context: context)
            if let p { attn.append(p) }
            x = y
        }
        x = esm.finalNorm(x)
        if request.hiddenStates { hidden.append(x) }
        return EsmOutput(hidden: x, hiddenStates: hidden, attentions: attn)
    }

    public func encode(batch: Batch, request: EncoderRequest, context: ForwardContext) throws -> EsmOutput {
        guard let br = branch else { return plainForward(batch.tokens, request: request, context: context) }
        let esm = lm.esm, a = Alphabet.esm
        let bsz = batch.tokens.shape[0], t = batch.tokens.shape[1], t1 = t + 1, d = esmHiddenSize
        // Insert the structure token before each row's EOS (token id <unk>, its embedding replaced).
        var ext = [Int32](repeating: a.padIndex, count: bsz * t1)
        var tokFlat: [Int32] = [], isTok = [Bool](repeating: false, count: bsz * t1)
        var back: [Int32] = []   // token-space row -> extended row
        for (b, e) in batch.examples.enumerated() {
            let len = e.tokens.count
            for j in 0..<(len - 1) { ext[b * t1 + j] = e.tokens[j] }
            ext[b * t1 + len - 1] = a.unkIndex
            ext[b * t1 + len] = e.tokens[len - 1]
            tokFlat.append(Int32(b * t1 + len - 1)); isTok[b * t1 + len - 1] = true
            for j in 0..<t { back.append(Int32(b * t1 + (j < len - 1 ? j : j + 1))) }
        }
        let extTokens = IndexTensor(shape: [bsz, t1], values: ext)
        let kp = esm.keyPadding(extTokens)
        var x = Tensor.where(MaskTensor(shape: [bsz, t1, 1], values: isTok), br.structureToken.value, esm.embed(extTokens))
        let notTok = Tensor(shape: [bsz * t1, 1], values: isTok.map { $0 ? 0 : 1 })

        let g = try PackedGraph.build(batch.examples, settings: settings, structureToken: true)
        var residueKeep = [Float](repeating: 1, count: g.nodeCount)
        for n in g.tokenNode { residueKeep[Int(n)] = 0 }
        let keepNodes = Tensor(shape: [g.nodeCount, 1], values: residueKeep)
        var h = br.graph.initialStates(g)
        var graphHidden: [Tensor] = []
        var hidden: [Tensor] = []
        func toTokenSpace(_ y: Tensor) -> Tensor { y.reshaped([bsz * t1, y.shape[2]]).gatherRows(back).reshaped([bsz, t, y.shape[2]]) }

        for i in 0..<layerCount {
            if request.hiddenStates { hidden.append(toTokenSpace(x)) }
            x = esm.runLayer(i, x, keyPadding: kp, context: context).0
            let k = (i + 1) / injectEvery - 1
            if (i + 1) % injectEvery == 0 && k < br.graph.layers.count {
                let flat = x.reshaped([bsz * t1, d])
                let state = flat.gatherRows(tokFlat)                                   // [B, d]
                h = h * keepNodes + br.toGraph[k](state).scatterAddRows(g.tokenNode, rows: g.nodeCount)
                h = br.graph.layers[k](h, graph: g)
                graphHidden.append(h)
                let update = br.toSequence[k](h.gatherRows(g.tokenNode))               // [B, d]
                x = (flat * notTok + update.scatterAddRows(tokFlat, rows: bsz * t1)).reshaped([bsz, t1, d])
            }
        }
        x = esm.finalNorm(x)
        if request.hiddenStates { hidden.append(toTokenSpace(x)) }
        let seq = toTokenSpace(x)
        let graphFeatures = ResidueGraphNetwork.toTokenSpace(Tensor.concat(graphHidden, axis: 1), graph: g, batch: bsz, tokens: t)
        return EsmOutput(hidden: Tensor.concat([seq, graphFeatures], axis: 2), hiddenStates: hidden, attentions: [])
    }

    /// Mean of the ESM features over residues ‖ sum of the graph features over residues.
    public func proteinFeatures(_ output: EsmOutput, tokens: IndexTensor) -> Tensor {
        let h = output.lastHiddenState, d = esmHiddenSize
        guard branch != nil else { return meanOverResidues(h, tokens: tokens) }
        return Tensor.concat([meanOverResidues(h.slice(axis: 2, start: 0, end: d), tokens: tokens),
                              h.slice(axis: 2, start: d, end: hiddenSize).sum(axis: 1)], axis: 1)
    }

    /// LM logits from the ESM columns of the residue features.
    public func lmLogits(_ hidden: Tensor) -> Tensor? {
        lm.logits(fromHidden: hidden.shape.last == esmHiddenSize ? hidden : hidden.slice(axis: hidden.rank - 1, start: 0, end: esmHiddenSize))
    }

    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try lm.save(to: directory)
        if let b = branch { try SafeTensors.write(b.stateDict(), to: directory.appendingPathComponent(Self.fileName)) }
    }

    public func load(from directory: URL) throws {
        try lm.loadDirectoryWeights(directory, copy: true)
        if let b = branch {
            let f = try SafeTensorsFile(url: directory.appendingPathComponent(Self.fileName))
            b.load(try f.loadParameters(b.expectedShapes(), copy: true))
        }
    }
}

/// `kind: fusion` — 3DProtLM / FusionProt: ESM-2 (`sequence:`, an `esm2`
/// section without `kind`) fused with a GearNet residue graph.
///
/// One learnable structure token is inserted before each sequence's EOS and
/// added to the residue graph as a node linked both ways to every residue
/// (relation 7). After ESM layers inject_every, 2·inject_every, … (K =
/// layers / inject_every times) the token's hidden state goes through
/// `to_graph.k` into the token node, graph layer k runs, and the token node's
/// new state goes through `to_sequence.k` back into the token's position.
/// Residue features [B, T, d + K·graph_dim] = ESM ‖ every graph layer's output
/// (the structure token removed, so rows line up with the input tokens);
/// protein feature = mean ESM over residues ‖ summed graph features.
/// `graph: false` runs plain ESM-2 (identical outputs).
///
/// `weights: DIR` starts from a fusion checkpoint (a `3dprotlm` run's `best/`
/// or `checkpoint-N/`): the ESM part from its `model.safetensors` +
/// `config.json` (so `sequence:` may be left out) and the graph branch from its
/// `fusion.safetensors`, loaded strictly — `graph_dim` and `inject_every` must
/// match the run that wrote it.
public struct FusionEncoderConfig: EncoderPluginConfig {
    public static let category = PluginCategory.encoder
    public var sequence: EsmEncoderConfig
    public var graphBranch: Bool
    public var graphDim: Int
    public var injectEvery: Int
    public var graph: GraphSettings
    public var weights: RecipePath?

    enum CodingKeys: String, CodingKey {
        case sequence, graphBranch = "graph", graphDim = "graph_dim", injectEvery = "inject_every", radius, knn, minSeparation = "min_separation"
        case weights
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        weights = try c.decodeIfPresent(RecipePath.self, forKey: .weights)
        if let w = weights, !c.contains(.sequence) {
            sequence = EsmEncoderConfig(weights: w)
        } else if c.contains(.sequence) {
            sequence = try c.decode(EsmEncoderConfig.self, forKey: .sequence)
        } else {
            throw recipeError(decoder, key: CodingKeys.sequence, "give 'sequence' (an esm2 section) or 'weights' (a fusion checkpoint directory)")
        }
        graphBranch = try c.decodeIfPresent(Bool.self, forKey: .graphBranch) ?? true
        graphDim = try c.decodeIfPresent(Int.self, forKey: .graphDim) ?? 128
        injectEvery = try c.decodeIfPresent(Int.self, forKey: .injectEvery) ?? 5
        graph = try decodeGraphSettings(c, decoder, radius: .radius, knn: .knn, minSeparation: .minSeparation)
        if graphDim < 1 { throw recipeError(decoder, key: CodingKeys.graphDim, "must be at least 1, got \(graphDim)") }
        if injectEvery < 1 { throw recipeError(decoder, key: CodingKeys.injectEvery, "must be at least 1, got \(injectEvery)") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence); try c.encode(graphBranch, forKey: .graphBranch)
        try c.encode(graphDim, forKey: .graphDim); try c.encode(injectEvery, forKey: .injectEvery)
        try c.encode(graph.radius, forKey: .radius); try c.encode(graph.knn, forKey: .knn); try c.encode(graph.minSeparation, forKey: .minSeparation)
        try c.encodeIfPresent(weights, forKey: .weights)
    }

    public func makeEncoder(_ ctx: BuildContext) throws -> ProteinEncoder {
        guard let esm = try sequence.makeEncoder(ctx) as? EsmEncoder else { throw TrainingError.plugin("fusion: the sequence encoder is not ESM") }
        var branch: FusionBranch? = nil
        if graphBranch {
            let k = esm.layerCount / injectEvery
            if k < 1 { throw TrainingError.plugin("fusion: inject_every \(injectEvery) exceeds the sequence encoder's \(esm.layerCount) layers") }
            branch = FusionBranch(hidden: esm.hiddenSize, graphDim: graphDim, injections: k)
            branch!.initialize(seed: ctx.seed ^ 0x4655_5349)  // "FUSI"
        }
        let encoder = FusionEncoder(lm: esm.model, branch: branch, settings: graph, injectEvery: injectEvery)
        if let w = weights {
            if graphBranch && !FileManager.default.fileExists(atPath: w.url.appendingPathComponent(FusionEncoder.fileName).path) {
                throw TrainingError.plugin("fusion.weights \(w.path): no \(FusionEncoder.fileName), so not a fusion checkpoint (for ESM-2 weights alone use sequence.weights)")
            }
            do { try encoder.load(from: w.url) } catch {
                throw TrainingError.plugin("fusion.weights \(w.path): \(error) (graph_dim \(graphDim) and inject_every \(injectEvery) must match the run that wrote it)")
            }
            ctx.log("fusion: encoder and graph branch loaded from \(w.path)")
        }
        return encoder
    }
}

import Foundation
import PLMTensor
import Testing

/// Forward values and gradients of composite ops against PyTorch
/// (fixture written by scripts/reference/tensor/make_fixtures.py).
@Suite("PyTorch parity")
struct TorchParityTests {
    struct Arr: Decodable { let shape: [Int]; let values: [Float] }
    struct IntArr: Decodable { let shape: [Int]; let values: [Int] }
    struct BoolArr: Decodable { let shape: [Int]; let values: [Bool] }
    struct Case: Decodable {
        let name: String
        let params: [String: ParamValue]
        let inputs: [String: Arr]
        let ints: [String: IntArr]
        let masks: [String: BoolArr]
        let output: Arr
        let w: [Float]
        let grads: [String: [Float]]
    }
    enum ParamValue: Decodable {
        case number(Float), list([Float])
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let x = try? c.decode(Float.self) { self = .number(x) } else { self = .list(try c.decode([Float].self)) }
        }
        var number: Float { if case let .number(x) = self { return x }; return .nan }
        var list: [Float] { if case let .list(x) = self { return x }; return [] }
    }
    struct File: Decodable { let cases: [Case] }

    static let cases: [Case] = {
        guard let url = Bundle.module.url(forResource: "Fixtures/torch_ops", withExtension: "json"),
              let data = try? Data(contentsOf: url),
              let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.cases
    }()

    @Test("fixture is present and complete")
    func fixtureLoaded() {
        #expect(Self.cases.count == 15)
    }

    @Test("op matches PyTorch", arguments: TorchParityTests.cases.map(\.name))
    func parity(_ name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        var x: [String: Tensor] = [:]
        for (k, v) in c.inputs { x[k] = Tensor(shape: v.shape, values: v.values, requiresGrad: true) }
        func p(_ k: String) -> Float { c.params[k]!.number }
        func mask(_ k: String) -> MaskTensor { MaskTensor(shape: c.masks[k]!.shape, values: c.masks[k]!.values) }
        let out: Tensor
        switch name {
        case "gelu": out = x["x"]!.gelu()
        case "softplus": out = x["x"]!.softplus(beta: p("beta"), threshold: p("threshold"))
        case "softmax": out = x["x"]!.softmax()
        case "log_softmax": out = x["x"]!.logSoftmax()
        case "layer_norm": out = x["x"]!.layerNorm(weight: x["w"], bias: x["b"], eps: p("eps"))
        case "normalize": out = x["x"]!.l2Normalized()
        case "cosine": out = Tensor.cosineSimilarity(x["a"]!, x["b"]!)
        case "mse": out = x["x"]!.mseLoss(x["y"]!)
        case "cross_entropy":
            let t = c.ints["targets"]!
            out = x["logits"]!.crossEntropy(targets: IndexTensor(shape: t.shape, values: t.values), ignoreIndex: -100)
        case "broadcast_arith":
            let (a, b, cc) = (x["a"]!, x["b"]!, x["c"]!)
            out = (a + b) * cc - a / cc
        case "linear": out = x["x"]!.matmul(x["W"]!, transposeB: true) + x["bias"]!
        case "bmm_tt": out = x["a"]!.matmul(x["b"]!, transposeA: true, transposeB: true)
        case "rotary": out = x["x"]!.rotaryEmbedding(invFreq: c.params["inv_freq"]!.list)
        case "sdpa":
            out = Tensor.scaledDotProductAttention(q: x["q"]!, k: x["k"]!, v: x["v"]!, keyPaddingMask: mask("key_padding")).output
        case "attention_probs":
            out = Tensor.attentionProbabilities(q: x["q"]!, k: x["k"]!, keyPaddingMask: mask("key_padding"), scale: p("scale"))
        default:
            Issue.record("no Swift mapping for fixture case \(name)")
            return
        }
        #expect(out.shape == c.output.shape, "\(name): shape \(out.shape) vs torch \(c.output.shape)")
        let fe = relError(out.toArray(), c.output.values)
        #expect(fe < 1e-5, "\(name): forward rel error \(fe)")
        (out * Tensor(shape: c.output.shape, values: c.w)).sum().backward()
        for (k, ref) in c.grads {
            let g = try #require(x[k]?.grad, "\(name): no gradient for \(k)")
            let ge = relError(g.toArray(), ref)
            #expect(ge < 1e-5, "\(name): gradient of \(k) rel error \(ge)")
        }
    }
}

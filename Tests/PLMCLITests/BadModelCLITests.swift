import Foundation
import PLMNN
import PLMTensor
import Testing

/// Broken model directories given to `plm embed`: a clear error naming the
/// file (and tensor), a non-zero exit, never a crash.
@Suite("plm embed with broken model files")
struct BadModelCLITests {
    /// A copy of the fixture model whose model.safetensors is replaced by `bytes`.
    func modelDir(_ bytes: [UInt8]) throws -> String {
        let dir = CLIFixtures.temp("model")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLIFixtures.tinyRotary + "/config.json", toPath: dir + "/config.json")
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        return dir
    }

    func original() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: CLIFixtures.tinyRotary + "/model.safetensors"))) }

    /// Rewrites the JSON header (keeping the data buffer) with `edit`.
    func withHeader(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let b = try original()
        let n = b[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var json = try JSONSerialization.jsonObject(with: Data(b[8..<(8 + n)])) as! [String: Any]
        edit(&json)
        var h = [UInt8](try JSONSerialization.data(withJSONObject: json))
        while h.count % 8 != 0 { h.append(0x20) }
        var out = (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xff) }
        out += h
        out += b[(8 + n)...]
        return out
    }

    func run(_ bytes: [UInt8]) throws -> (Int32, String) {
        let dir = try modelDir(bytes)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runPLM(["embed", "--model", dir, "--fasta", CLIFixtures.embedFasta, "--out", CLIFixtures.temp("o.h5"), "--quiet"])
        #expect(!r.stderr.contains("Fatal error"), "crashed: \(r.stderr)")
        return (r.status, r.stderr)
    }

    @Test("truncated file")
    func truncated() throws {
        let b = try original()
        let (s, e) = try run(Array(b.prefix(b.count - 1000)))
        #expect(s != 0 && e.contains("model.safetensors"), "\(e)")
    }

    @Test("header lying about a tensor's size")
    func lyingHeader() throws {
        let (s, e) = try run(try withHeader { j in
            var t = j["lm_head.bias"] as! [String: Any]
            t["shape"] = [34]
            j["lm_head.bias"] = t
        })
        #expect(s != 0 && e.contains("lm_head.bias"), "\(e)")
    }

    @Test("unsupported dtype")
    func wrongDType() throws {
        let (s, e) = try run(try withHeader { j in
            var t = j["lm_head.bias"] as! [String: Any]
            t["dtype"] = "I32"
            j["lm_head.bias"] = t
        })
        #expect(s != 0 && e.contains("lm_head.bias") && e.contains("I32"), "\(e)")
    }

    @Test("missing tensor")
    func missingTensor() throws {
        var tensors = try SafeTensorsFile(url: URL(fileURLWithPath: CLIFixtures.tinyRotary + "/model.safetensors")).tensors(copy: true)
        tensors["esm.encoder.layer.0.intermediate.dense.weight"] = nil
        let tmp = CLIFixtures.temp("m.safetensors")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try SafeTensors.write(tensors, to: URL(fileURLWithPath: tmp))
        let (s, e) = try run([UInt8](try Data(contentsOf: URL(fileURLWithPath: tmp))))
        #expect(s != 0 && e.contains("esm.encoder.layer.0.intermediate.dense.weight") && e.contains("missing"), "\(e)")
    }
}

import Foundation
import PLMData
import PLMNN
import Testing

enum CLIFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyRotary = root.appendingPathComponent("Tests/PLMNNTests/Fixtures/esm/tiny_rotary").path
    static let embedFasta = root.appendingPathComponent("Tests/PLMKitTests/Fixtures/embed_input.fasta").path
    static let embedExpected = root.appendingPathComponent("Tests/PLMKitTests/Fixtures/embed_expected.safetensors")
    static func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("plm-cli-\(UUID().uuidString)-\(name)").path
    }
    static func write(_ text: String, _ name: String) throws -> String {
        let p = temp(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

@Suite("plm embed")
struct EmbedCLITests {
    @Test("save_pretrained directory + FASTA gives transformers' mean embeddings and logits")
    func parity() throws {
        let out = CLIFixtures.temp("embed.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try runPLM(["embed", "--model", CLIFixtures.tinyRotary, "--fasta", CLIFixtures.embedFasta,
                            "--out", out, "--logits", "--max-tokens", "256"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("embedded 6 record(s)"))
        let exp = try SafeTensorsFile(url: CLIFixtures.embedExpected)
        let f = try HDF5File.open(out)
        #expect(try f.childNames().count == 6)
        for id in try f.childNames() {
            for ds in ["mean", "logits"] {
                let a = try f.group(id).read(ds, as: Float.self).values
                let b = try exp.tensor("\(id).\(ds)").toArray()
                var d: Float = 0, m: Float = 0
                for (x, y) in zip(a, b) { d = max(d, abs(x - y)); m = max(m, abs(y)) }
                #expect(a.count == b.count && d / m < 1e-4, "\(id).\(ds): rel \(d / m)")
            }
        }
    }

    @Test("invalid residue: non-zero exit naming the record and position")
    func invalidCharacter() throws {
        let fasta = try CLIFixtures.write(">ok\nMKTAYIAK\n>bad_one\nMKTA#YIAK\n", "bad.fasta")
        let out = CLIFixtures.temp("bad.h5")
        defer { try? FileManager.default.removeItem(atPath: fasta); try? FileManager.default.removeItem(atPath: out) }
        let r = try runPLM(["embed", "--model", CLIFixtures.tinyRotary, "--fasta", fasta, "--out", out, "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad_one") && r.stderr.contains("5"), "stderr: \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test("empty record and missing model: clear errors, non-zero exit")
    func badInputs() throws {
        let fasta = try CLIFixtures.write(">empty\n>x\nMKV\n", "empty.fasta")
        defer { try? FileManager.default.removeItem(atPath: fasta) }
        let r = try runPLM(["embed", "--model", CLIFixtures.tinyRotary, "--fasta", fasta, "--out", CLIFixtures.temp("e.h5"), "--quiet"])
        #expect(r.status != 0 && r.stderr.contains("empty"), "stderr: \(r.stderr)")
        let m = try runPLM(["embed", "--model", "/nonexistent/model", "--fasta", CLIFixtures.embedFasta, "--out", CLIFixtures.temp("m.h5")])
        #expect(m.status != 0 && m.stderr.contains("/nonexistent/model"), "stderr: \(m.stderr)")
        let l = try runPLM(["embed", "--model", CLIFixtures.tinyRotary, "--fasta", CLIFixtures.embedFasta,
                            "--out", CLIFixtures.temp("l.h5"), "--max-length", "50", "--quiet"])
        #expect(l.status != 0 && l.stderr.contains("--long truncate"), "stderr: \(l.stderr)")
    }
}

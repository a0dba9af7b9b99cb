import ContrastiveStructure
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor
import Testing

@Suite("Contrastive structures source")
struct ContrastiveDataTests {
    static let structures = RepoFixtures.root.appendingPathComponent("examples/splm/structures")

    func ctx() -> BuildContext { BuildContext(seed: 1, recipeDirectory: URL(fileURLWithPath: "/"), maxLength: 512) }

    func rows(_ e: Example) -> [[Float]] {
        let f = e.features["ca"]!
        return (0..<f.shape[0]).map { Array(f.values[(3 * $0)..<(3 * $0 + 3)]) }
    }

    @Test("a directory: every protein chain of every file, CA rows aligned with residues")
    func directory() throws {
        let src = try StructureSourceConfig(name: "pdb", path: Self.structures.path).makeSource(ctx())
        let examples = try (0..<src.count).map { try src.example(at: $0) }
        #expect(examples.map(\.id) == ["1A8O_A", "1AKI_A", "1DIX_A", "1QYS_A", "1UBI_A", "1vii_3frames_A", "2G3R_A",
                                       "3EIY_A", "5L33_A", "6MRR_A", "d1mbaa__A"])
        // Observed residue counts (docs: /work/shared/data/README.md, gemmi): every residue here has a CA.
        let lengths = ["1A8O_A": 70, "1AKI_A": 129, "1DIX_A": 208, "1QYS_A": 92, "1UBI_A": 76, "1vii_3frames_A": 36,
                       "2G3R_A": 119, "3EIY_A": 174, "5L33_A": 106, "6MRR_A": 68, "d1mbaa__A": 146]
        let tok = Tokenizer()
        for e in examples {
            let f = try #require(e.features["ca"])
            #expect(e.tokens.count == lengths[e.id]! + 2, "\(e.id)")
            #expect(f.shape == [e.tokens.count, 3])
            let r = rows(e)
            #expect(r.first == [0, 0, 0] && r.last == [0, 0, 0], "BOS/EOS rows are 0")
            // consecutive CA atoms of a chain are ~3.8 A apart (4.2 A allows cis-Pro; chain breaks are rare)
            var steps = 0, near = 0
            for k in 1..<(r.count - 2) {
                let d = zip(r[k], r[k + 1]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                steps += 1
                if d > 2.8 && d < 4.2 { near += 1 }
            }
            #expect(Double(near) / Double(steps) > 0.95, "\(e.id): CA rows do not look like consecutive residues")
            #expect(!tok.decode(e.tokens).contains("X") || e.id == "1A8O_A")
        }
        let ubi = try #require(examples.first { $0.id == "1UBI_A" })
        #expect(tok.decode(ubi.tokens).contains("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"))
        // 1UBI.pdb line 271: ATOM 2 CA MET A 1 26.381 25.361 2.894
        #expect(rows(ubi)[1] == [26.381, 25.361, 2.894])
        // MSE (HETATM in 1A8O) is a residue, written M
        let capsid = try #require(examples.first { $0.id == "1A8O_A" })
        #expect(tok.decode(capsid.tokens).filter { $0 == "M" }.count >= 1)
    }

    @Test("a residue without CA is dropped from sequence and coordinates; DNA, water and ligands are not residues")
    func missingCA() throws {
        func right(_ v: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - v.count)) + v }
        func atom(_ serial: Int, _ name: String, _ res: String, _ chain: String, _ num: Int, _ x: Double, het: Bool = false) -> String {
            let xyz = [x, 0, 0].map { right(String(format: "%.3f", $0), 8) }.joined()
            return (het ? "HETATM" : "ATOM  ") + right("\(serial)", 5) + " " + name.padding(toLength: 4, withPad: " ", startingAt: 0)
                + " " + right(res, 3) + " " + chain + right("\(num)", 4) + "    " + xyz + "  1.00  0.00          "
                + right(String(name.trimmingCharacters(in: .whitespaces).prefix(1)), 2)
        }
        var lines: [String] = []
        var s = 1
        for (i, (res, hasCA)) in [("GLY", true), ("ALA", false), ("LYS", true), ("TRP", true)].enumerated() {
            let x = Double(i) * 3.8
            lines.append(atom(s, " N", res, "A", i + 1, x - 1)); s += 1
            if hasCA { lines.append(atom(s, " CA", res, "A", i + 1, x)); s += 1 }
            lines.append(atom(s, " C", res, "A", i + 1, x + 1)); s += 1
        }
        lines.append(atom(s, " P", " DA", "B", 1, 50)); s += 1
        lines.append(atom(s, " C4'", " DA", "B", 1, 51)); s += 1
        lines.append(atom(s, " O", "HOH", "A", 101, 60, het: true)); s += 1
        lines.append("END")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-splm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("toy.pdb")
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let ex = try StructureSourceConfig.examples(file: file, chain: nil)
        #expect(ex.count == 1 && ex[0].id == "toy_A", "the DNA chain B is not an example")
        #expect(Tokenizer().decode(ex[0].tokens).contains("GKW"))
        #expect(rows(ex[0]).map { $0[0] } == [0, 0, 7.6, 11.4, 0].map { Float($0) })
        #expect(throws: StructureSourceError.self) { try StructureSourceConfig.examples(file: file, chain: "B") }
        #expect(throws: StructureSourceError.self) { try StructureSourceConfig.examples(file: file, chain: "Z") }
    }

    @Test("cropping keeps sequence and coordinates together")
    func cropping() throws {
        let e = try StructureSourceConfig.examples(file: Self.structures.appendingPathComponent("1UBI.pdb"), chain: "A")[0]
        let c = e.cropped(start: 10, length: 20)
        #expect(c.tokens.count == 22 && Array(c.tokens[1...20]) == Array(e.tokens[11...30]))
        let ca = try ContrastiveStructureTarget.caCoordinates(c)
        let full = try ContrastiveStructureTarget.caCoordinates(e)
        #expect(ca == Array(full[(3 * 10)..<(3 * 30)]))
        #expect(rows(c).first == [0, 0, 0] && rows(c).last == [0, 0, 0])
    }

    @Test("list files: FILE [CHAIN], comments, relative paths; errors name the file and line")
    func listFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-splm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let list = dir.appendingPathComponent("train.txt")
        try """
        # two chains
        \(Self.structures.path)/1UBI.pdb A
        \(Self.structures.path)/1A8O.cif   # every protein chain

        """.write(to: list, atomically: true, encoding: .utf8)
        let src = try StructureSourceConfig(name: "l", path: list.path).makeSource(ctx())
        #expect(try (0..<src.count).map { try src.example(at: $0).id } == ["1UBI_A", "1A8O_A"])
        try "1UBI.pdb A B\n".write(to: list, atomically: true, encoding: .utf8)
        #expect(throws: StructureSourceError.listLine(file: list.path, line: 1, message: "expected 'FILE [CHAIN]', got 3 fields")) {
            _ = try StructureSourceConfig(name: "l", path: list.path).makeSource(ctx())
        }
        // max_structures keeps the first files (sorted by name in a directory)
        let two = try StructureSourceConfig(name: "d", path: Self.structures.path, maxStructures: 2).makeSource(ctx())
        #expect(two.count == 2)
    }

    @Test("the encoder is padding-invariant: an example alone equals it in a padded batch (eval mode)", arguments: [0, 2])
    func paddingInvariance(window: Int) throws {
        let s = StructureEncoderSettings(thresholds: [22, 22, 22], patchSize: 8, dim: 16, depth: 2, heads: 2, window: window,
                                         positions: window > 0 ? "learned" : "sinusoidal", maxGrid: 10)
        let head = ContrastiveHead(sequenceDim: 8, settings: s, projectionHidden: 8, projectionDim: 4)
        head.initialize(seed: 3)
        head.train(false)
        let short = try StructureSourceConfig.examples(file: Self.structures.appendingPathComponent("1vii_3frames.pdb"), chain: nil)[0]
        let long = try StructureSourceConfig.examples(file: Self.structures.appendingPathComponent("1UBI.pdb"), chain: nil)[0]
        let a = try ContrastiveStructureTarget.caCoordinates(short), b = try ContrastiveStructureTarget.caCoordinates(long)
        let alone = withNoGrad { head.structureEncoder.encode([a], context: ForwardContext()) }.toArray()
        let batch = withNoGrad { head.structureEncoder.encode([b, a], context: ForwardContext()) }.toArray()
        expectClose(Array(batch[16...]), alone, 1e-5, "padded vs alone")
    }
}

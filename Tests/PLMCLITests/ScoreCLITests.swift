import Foundation
import Testing

/// Paths and helpers of the `plm score` end-to-end tests.
enum ScoreCLIFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("Tests/PLMNNTests/Fixtures/esm/tiny_rotary").path
    static let cases = root.appendingPathComponent("Tests/PLMKitTests/Fixtures/score_cases.json")

    struct Case: Decodable { let mutation: String; let masked_marginal: Double; let wt_marginal: Double; let pll: Double; let pll_delta: Double }
    struct File: Decodable { let wild_type: String; let cases: [Case] }
    static func load() throws -> File { try JSONDecoder().decode(File.self, from: Data(contentsOf: cases)) }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("plm-score-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Simple reader for the tool's output (no quoted fields expected unless written so).
    static func readCSV(_ url: URL) throws -> [[String]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }
}

@Suite("plm score")
struct ScoreCLITests {
    @Test("each method's CSV matches the HuggingFace reference")
    func methods() throws {
        let fx = try ScoreCLIFixtures.load()
        let dir = try ScoreCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let picked = [fx.cases[0], fx.cases[5], fx.cases[22], fx.cases[23]]     // singles and multi-mutants
        let list = picked.map(\.mutation).joined(separator: ",")
        for method in ["masked-marginal", "wt-marginal", "pll"] {
            let out = dir.appendingPathComponent("\(method).csv")
            let r = try runPLM(["score", "--model", ScoreCLIFixtures.model, "--sequence", fx.wild_type,
                                "--mutations", list, "--method", method, "--out", out.path, "--max-tokens", "500"])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(r.stderr.contains("100%"), "progress bar on stderr")
            #expect(r.stdout.isEmpty)
            let rows = try ScoreCLIFixtures.readCSV(out)
            #expect(rows[0] == (method == "pll" ? ["mutation", "score", "pll_delta"] : ["mutation", "score"]))
            #expect(rows.count == picked.count + 1)
            for (row, c) in zip(rows.dropFirst(), picked) {
                #expect(row[0] == c.mutation)
                let got = Double(row[1]) ?? .nan
                let want = method == "masked-marginal" ? c.masked_marginal : method == "wt-marginal" ? c.wt_marginal : c.pll
                #expect(abs(got - want) <= 1e-4 + 1e-5 * abs(want), "\(method) \(c.mutation): \(got) vs \(want)")
                if method == "pll" { #expect(abs((Double(row[2]) ?? .nan) - c.pll_delta) <= 1e-4) }
            }
        }
    }

    @Test("a mutations file keeps its columns (quoted ones too) and gains score")
    func mutationsFile() throws {
        let fx = try ScoreCLIFixtures.load()
        let dir = try ScoreCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = fx.cases
        let input = dir.appendingPathComponent("dms.csv")
        let csv = "id,mutant,DMS_score,note\n"
            + "1,\(c[0].mutation),0.5,\"plain\"\n"
            + "2,\(c[1].mutation),-1.25,\"has, comma\"\n"
            + "3,\(c[22].mutation),2,\"say \"\"hi\"\"\"\n"
        try csv.write(to: input, atomically: true, encoding: .utf8)
        let seq = dir.appendingPathComponent("wt.fasta")
        try ">wt some protein\n\(fx.wild_type.prefix(40))\n\(fx.wild_type.dropFirst(40))\n".write(to: seq, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("scored.csv")
        let r = try runPLM(["score", "--model", ScoreCLIFixtures.model, "--sequence-file", seq.path,
                            "--mutations-file", input.path, "--method", "pll", "--out", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let text = try String(contentsOf: out, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "id,mutant,DMS_score,note,score,pll_delta")
        #expect(lines[1].hasPrefix("1,\(c[0].mutation),0.5,plain,"))
        #expect(lines[2].hasPrefix("2,\(c[1].mutation),-1.25,\"has, comma\","))
        #expect(lines[3].hasPrefix("3,\(c[22].mutation),2,\"say \"\"hi\"\"\","))
        for (line, k) in zip(lines.dropFirst(), [0, 1, 22]) {
            let f = line.split(separator: ",").suffix(2).map { Double($0) ?? .nan }
            #expect(abs(f[0] - c[k].pll) <= 1e-4 + 1e-5 * abs(c[k].pll))
            #expect(abs(f[1] - c[k].pll_delta) <= 1e-4)
        }
        // No temporary file left beside the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["dms.csv", "scored.csv", "wt.fasta"])
    }

    @Test("a wrong wild-type residue fails, naming the mutation; nothing is written")
    func wildTypeMismatch() throws {
        let fx = try ScoreCLIFixtures.load()
        let dir = try ScoreCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.csv")
        let actual = Array(fx.wild_type)[11]
        let wrongWT: Character = actual == "A" ? "G" : "A"
        let bad = "\(wrongWT)12W"
        let r = try runPLM(["score", "--model", ScoreCLIFixtures.model, "--sequence", fx.wild_type,
                            "--mutations", "\(fx.cases[0].mutation),\(bad)", "--out", out.path])
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix("error: "), "stderr: \(r.stderr)")
        #expect(r.stderr.contains(bad) && r.stderr.contains("has \(actual) at position 12"), "stderr: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))

        // In a file, the error names the line as well.
        let input = dir.appendingPathComponent("m.csv")
        try "mutation\n\(fx.cases[0].mutation)\n\(bad)\n".write(to: input, atomically: true, encoding: .utf8)
        let r2 = try runPLM(["score", "--model", ScoreCLIFixtures.model, "--sequence", fx.wild_type,
                             "--mutations-file", input.path, "--out", out.path])
        #expect(r2.status != 0)
        #expect(r2.stderr.contains("m.csv:3:") && r2.stderr.contains(bad), "stderr: \(r2.stderr)")
    }

    @Test("bad input is an error message and a non-zero exit, never a crash")
    func badInput() throws {
        let fx = try ScoreCLIFixtures.load()
        let dir = try ScoreCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.csv").path
        let base = ["score", "--model", ScoreCLIFixtures.model, "--out", out]
        let noColumn = dir.appendingPathComponent("nocol.csv")
        try "variant,x\nM1A,1\n".write(to: noColumn, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--sequence", "MKT1AY", "--mutations", "M1A"], "invalid character '1' at position 4"),
            (["--sequence", fx.wild_type, "--mutations", "M1A,,L7M"], "variant 2"),
            (["--sequence", fx.wild_type, "--mutations", "M1J"], "'J'"),
            (["--sequence", fx.wild_type, "--mutations", "M81A"], "outside the wild type"),
            (["--sequence", fx.wild_type, "--mutations", "M1A:M1C"], "more than once"),
            (["--sequence", fx.wild_type], "exactly one"),
            (["--sequence", fx.wild_type, "--mutations", "M1A", "--mutations-file", noColumn.path], "exactly one"),
            (["--sequence", fx.wild_type, "--mutations-file", noColumn.path], "'mutant' or 'mutation'"),
            (["--sequence", fx.wild_type, "--mutations-file", dir.appendingPathComponent("none.csv").path], "no such file"),
            (["--sequence", fx.wild_type, "--mutations", "M1A", "--max-tokens", "0"], "at least 1"),
        ]
        for (args, message) in cases {
            let r = try runPLM(base + args)
            #expect(r.status == 1, "\(args): status \(r.status), stderr \(r.stderr)")
            #expect(r.stderr.contains("error: ") && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        // A model directory that is not one.
        let r = try runPLM(["score", "--model", dir.path, "--sequence", fx.wild_type, "--mutations", "M1A", "--out", out])
        #expect(r.status == 1 && r.stderr.contains("error: "), "\(r.stderr)")
        // An unknown method is a usage error.
        let m = try runPLM(base + ["--sequence", fx.wild_type, "--mutations", "M1A", "--method", "best"])
        #expect(m.status != 0 && m.stderr.contains("best"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

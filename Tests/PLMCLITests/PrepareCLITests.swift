import Foundation
import PLMData
import Testing

/// Structures and references for the `plm prepare` tests (written by scripts/reference/nma/make_fixtures.py).
enum PrepareFixtures {
    static let dir = CLIFixtures.root.appendingPathComponent("Tests/PLMStructureTests/Fixtures/nma")
    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A fresh temporary directory.
    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("plm-prepare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Reads F64 tensor `name` of a fixture safetensors file.
    static func doubles(_ file: String, _ name: String) throws -> (shape: [Int], values: [Double]) {
        let data = try Data(contentsOf: dir.appendingPathComponent(file))
        let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + n)) as! [String: Any]
        let e = header[name] as! [String: Any]
        precondition(e["dtype"] as! String == "F64")
        let off = (e["data_offsets"] as! [NSNumber]).map(\.intValue)
        let values = data.subdata(in: 8 + n + off[0] ..< 8 + n + off[1]).withUnsafeBytes { b in
            (0 ..< (off[1] - off[0]) / 8).map { b.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
        }
        return ((e["shape"] as! [NSNumber]).map(\.intValue), values)
    }
}

@Suite("plm prepare nma / contact-map")
struct PrepareCLITests {
    @Test("nma on 2G3R: SeqDance layout, -1 borders, values = SeqDance's reference (float32)")
    func nmaSingle() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("nma.h5").path
        let r = try runPLM(["prepare", "nma", "--structure", PrepareFixtures.path("2G3R.pdb"), "--out", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("nma: 1 written"), "stderr: \(r.stderr)")
        let store = try SeqDanceFeatureStore(path: out)
        #expect(store.names == ["2G3R"])
        let e = try #require(store.entry("2G3R"))
        #expect(e.kind == .nma && e.source == "proteinflow_pdb" && e.length == 119)
        #expect(e.sequence == "SFVGLRVVAKWSSNGYFYSGKITRDVGAGKYKLLFDDGYECDVLGKDILLCDPIPLDTEVTALSEDEYFSAGVVKGHRKESGELYYSIEKEGQRKWYKRMAVILSLEQGNRLREQYGLG")
        let rec = try store.read("2G3R")
        #expect(rec.residue.shape == [121, 3] && rec.pair.shape == [121, 121, 3])
        #expect(rec.residue.values[0 ..< 3].allSatisfy { $0 == -1 } && rec.residue.values[360 ..< 363].allSatisfy { $0 == -1 })
        let ref = try PrepareFixtures.doubles("2G3R_seqdance_reference.safetensors", "gnm_msf")
        let cor = try PrepareFixtures.doubles("2G3R_seqdance_reference.safetensors", "anm_cor")
        var maxRel: Double = 0, maxAbs: Double = 0
        for k in 0 ..< 3 {
            for i in 0 ..< 119 {
                let x = Double(rec.residue.values[(i + 1) * 3 + k]), y = ref.values[k * 119 + i]
                maxRel = max(maxRel, abs(x - y) / abs(y))
                for j in 0 ..< 119 {
                    let p = Double(rec.pair.values[((i + 1) * 121 + j + 1) * 3 + k]), q = cor.values[(k * 119 + i) * 119 + j]
                    maxAbs = max(maxAbs, abs(p - q))
                }
            }
        }
        #expect(maxRel < 1e-6, "nma_res float32 vs reference: max rel \(maxRel)")
        #expect(maxAbs < 1e-6, "nma_pair float32 vs reference: max abs \(maxAbs)")
    }

    @Test("directory run: a bad file is skipped with its reason, the others are written; rerun appends and skips existing")
    func directoryWithBadFile() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: PrepareFixtures.path("2BEG_ca.pdb"), toPath: inputs.appendingPathComponent("2BEG_ca.pdb").path)
        try FileManager.default.copyItem(atPath: PrepareFixtures.path("2G3R.pdb"), toPath: inputs.appendingPathComponent("2G3R.pdb").path)
        // Not a structure: only a water molecule (no C-alpha atoms).
        try "HETATM    1  O   HOH A   1      10.000  10.000  10.000  1.00 20.00           O\nEND\n"
            .write(to: inputs.appendingPathComponent("water.pdb"), atomically: true, encoding: .utf8)
        // Malformed coordinates.
        try "ATOM      1  CA  ALA A   1      xx.000  10.000  10.000  1.00 20.00           C\nEND\n"
            .write(to: inputs.appendingPathComponent("broken.pdb"), atomically: true, encoding: .utf8)
        try "not a structure".write(to: inputs.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("nma.h5").path

        let r = try runPLM(["prepare", "nma", "--structure", inputs.path, "--out", out, "--jobs", "2", "--quiet"])
        #expect(r.status == 1, "a failed structure gives exit status 1; stderr: \(r.stderr)")
        #expect(r.stderr.contains("nma: 2 written"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("2 failed"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("failed water") && r.stderr.contains("C-alpha"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("failed broken") && r.stderr.contains("broken.pdb:1"), "stderr: \(r.stderr)")
        #expect(!r.stderr.contains("notes"))
        let store = try SeqDanceFeatureStore(path: out)
        #expect(Set(store.names) == ["2BEG_ca", "2G3R"])
        // 2BEG: five chains of 26 joined with <eos><cls>: L = 130 + 8 linker tokens.
        let beg = try #require(store.entry("2BEG_ca"))
        #expect(beg.length == 138)
        #expect(beg.sequence.components(separatedBy: "<eos><cls>").count == 5)
        let rec = try store.read("2BEG_ca")
        // Token 27, 28 are the first linker: -1 rows and columns; token 29 is chain B's first residue.
        #expect(rec.residue.values[27 * 3] == -1 && rec.residue.values[28 * 3] == -1 && rec.residue.values[29 * 3] > 0)
        #expect(rec.pair.values[(1 * 140 + 27) * 3] == -1 && rec.pair.values[(29 * 140 + 29) * 3] > 0.999)
        // Same values as the ProDy fixture (nma_res1 of residue 0 and of chain B's first residue, 26).
        let res = try PrepareFixtures.doubles("2BEG_prody.safetensors", "nma_res")
        #expect(abs(Double(rec.residue.values[1 * 3]) - res.values[0]) / res.values[0] < 1e-6)
        #expect(abs(Double(rec.residue.values[29 * 3 + 2]) - res.values[2 * 130 + 26]) / res.values[2 * 130 + 26] < 1e-6)
        store.close()

        // Rerun with one more structure via a list: existing names are skipped, the new one appended.
        let list = dir.appendingPathComponent("list.txt")
        try "# structures\n\(inputs.path)/2G3R.pdb\n\(PrepareFixtures.path("1TIM_ca.pdb")) tim_A\n".write(to: list, atomically: true, encoding: .utf8)
        let r2 = try runPLM(["prepare", "nma", "--list", list.path, "--chain", "A", "--driver", "dsyevr", "--out", out, "--quiet"])
        #expect(r2.status == 0, "stderr: \(r2.stderr)")
        #expect(r2.stderr.contains("1 written") && r2.stderr.contains("1 skipped") && r2.stderr.contains("already in"), "stderr: \(r2.stderr)")
        let store2 = try SeqDanceFeatureStore(path: out)
        #expect(store2.names == ["2BEG_ca", "2G3R", "tim_A"] || Set(store2.names) == ["2BEG_ca", "2G3R", "tim_A"])
        #expect(store2.entry("tim_A")?.length == 247)
    }

    @Test("nma: bad arguments give clear errors")
    func nmaErrors() throws {
        let missing = try runPLM(["prepare", "nma", "--structure", "/nonexistent/x.pdb", "--out", CLIFixtures.temp("x.h5")])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/x.pdb"), "stderr: \(missing.stderr)")
        let out = CLIFixtures.temp("c.h5")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let chain = try runPLM(["prepare", "nma", "--structure", PrepareFixtures.path("2G3R.pdb"), "--chain", "Z", "--out", out, "--quiet"])
        #expect(chain.status == 1 && chain.stderr.contains("chain 'Z'") && chain.stderr.contains("A"), "stderr: \(chain.stderr)")
        let neither = try runPLM(["prepare", "nma", "--out", out])
        #expect(neither.status != 0 && neither.stderr.contains("--structure"), "stderr: \(neither.stderr)")
        let nameForDir = try runPLM(["prepare", "nma", "--structure", PrepareFixtures.dir.path, "--name", "x", "--out", out])
        #expect(nameForDir.status != 0 && nameForDir.stderr.contains("--name"), "stderr: \(nameForDir.stderr)")
        let badDriver = try runPLM(["prepare", "nma", "--structure", PrepareFixtures.path("2G3R.pdb"), "--driver", "qr", "--out", out])
        #expect(badDriver.status != 0 && badDriver.stderr.contains("--driver"), "stderr: \(badDriver.stderr)")
        let emptyThreshold = try runPLM(["prepare", "contact-map", "--structure", PrepareFixtures.path("2G3R.pdb"), "--thresholds", "22,,12",
                                         "--out", CLIFixtures.temp("t.h5")])
        #expect(emptyThreshold.status != 0 && emptyThreshold.stderr.contains("--thresholds must be positive numbers"), "stderr: \(emptyThreshold.stderr)")
    }

    @Test("nma and contact-map report residues whose names have no one-letter code (stored as X)")
    func unmappedResidues() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2G3R with PHE A1486 renamed to an unknown amino acid XYZ (backbone intact).
        let text = try String(contentsOfFile: PrepareFixtures.path("2G3R.pdb"), encoding: .utf8)
        let renamed = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("ATOM"), line.count > 26, String(Array(line)[17..<20]) == "PHE", String(Array(line)[22..<26]) == "1486" else { return String(line) }
            var c = Array(line)
            c.replaceSubrange(17..<20, with: Array("XYZ"))
            return String(c)
        }.joined(separator: "\n")
        let pdb = dir.appendingPathComponent("odd.pdb").path
        try renamed.write(toFile: pdb, atomically: true, encoding: .utf8)
        for cmd in ["nma", "contact-map"] {
            let r = try runPLM(["prepare", cmd, "--structure", pdb, "--out", dir.appendingPathComponent("\(cmd).h5").path, "--quiet"])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(r.stderr.contains("note odd (\(pdb)): 1 residue(s) with no one-letter code stored as X (XYZ A:1486)"), "\(cmd) stderr: \(r.stderr)")
        }
        let store = try SeqDanceFeatureStore(path: dir.appendingPathComponent("nma.h5").path)
        #expect(store.entry("odd")?.sequence.hasPrefix("SX") == true, "\(String(describing: store.entry("odd")?.sequence))")
    }

    @Test("nma: a C-alpha network in disconnected pieces (two GNM zero modes) fails with the reason; the connected structure is written")
    func nmaDisconnected() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2G3R plus a copy of its C-alpha atoms as chain Q, 80 A away along x.
        let text = try String(contentsOfFile: PrepareFixtures.path("2G3R.pdb"), encoding: .utf8)
        var copy: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("ATOM") && line.count >= 54 {
            let chars = Array(line)
            guard String(chars[12..<16]).trimmingCharacters(in: .whitespaces) == "CA",
                  let x = Double(String(chars[30..<38]).trimmingCharacters(in: .whitespaces)) else { continue }
            var c = chars
            c[21] = "Q"
            c.replaceSubrange(30..<38, with: Array(String(format: "%8.3f", x + 80)))
            copy.append(String(c))
        }
        #expect(copy.count > 100)
        let inputs = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("END") && !$0.hasPrefix("MASTER") }.joined(separator: "\n")
        try (body + "\n" + copy.joined(separator: "\n") + "\nEND\n").write(to: inputs.appendingPathComponent("two_far.pdb"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: PrepareFixtures.path("2G3R.pdb"), toPath: inputs.appendingPathComponent("2G3R.pdb").path)
        let out = dir.appendingPathComponent("nma.h5").path
        let r = try runPLM(["prepare", "nma", "--structure", inputs.path, "--out", out, "--quiet"])
        #expect(r.status == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("nma: 1 written to \(out), 0 skipped, 1 failed"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("failed two_far (\(inputs.path)/two_far.pdb): the C-alpha network (15 A cut-off) falls apart into 2 disconnected pieces"), "stderr: \(r.stderr)")
        let store = try SeqDanceFeatureStore(path: out)
        #expect(store.names() == ["2G3R"])
        // Chain A alone is connected and fine.
        let a = try runPLM(["prepare", "nma", "--structure", inputs.appendingPathComponent("two_far.pdb").path, "--chain", "A",
                            "--out", dir.appendingPathComponent("a.h5").path, "--quiet"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
    }

    @Test("contact-map: documented layout, values from the distances, padding, append")
    func contactMap() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("cm.h5").path
        let r = try runPLM(["prepare", "contact-map", "--structure", PrepareFixtures.path("2G3R.pdb"), "--out", out,
                            "--name", "g3r", "--size", "128", "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        do {  // scope: HDF5 objects keep the file open (and locked) while alive
            let f = try HDF5File.open(out)
            #expect(try f.stringAttribute("layout") == "splm-contact-maps")
            let g = try f.group("g3r")
            let d = try g.read("distance", as: Float.self)
            let m = try g.read("contact_map", as: Float.self)
            #expect(d.shape == [119, 119] && m.shape == [3, 128, 128])
            #expect(try g.intAttribute("length") == 119 && g.intAttribute("size") == 128)
            #expect(try g.floatArrayAttribute("thresholds") == [22, 22, 22])
            let ref = try PrepareFixtures.doubles("2G3R_contact.safetensors", "distance")
            var maxD: Double = 0
            for i in 0 ..< 119 * 119 { maxD = max(maxD, abs(Double(d.values[i]) - ref.values[i])) }
            #expect(maxD < 1e-5, "distance max abs \(maxD)")
            // channel 2, (5, 9): (22 - clip(D)) / 22; padding rows are 0.
            let d59 = ref.values[5 * 119 + 9]
            #expect(abs(Double(m.values[2 * 128 * 128 + 5 * 128 + 9]) - max(0, 22 - d59) / 22) < 1e-6)
            #expect(m.values[127 * 128 + 127] == 0 && m.values[118 * 128 + 118] == 1)
        }

        // Append a second structure with other thresholds to the same file.
        let r2 = try runPLM(["prepare", "contact-map", "--structure", PrepareFixtures.path("2BEG_ca.pdb"), "--out", out,
                             "--thresholds", "22,12,8", "--chain", "A,B", "--quiet"])
        #expect(r2.status == 0, "stderr: \(r2.stderr)")
        let f2 = try HDF5File.open(out)
        #expect(Set(try f2.childNames()) == ["g3r", "2BEG_ca"])
        let g2 = try f2.group("2BEG_ca")
        #expect(try g2.read("contact_map", as: Float.self).shape == [3, 52, 52])
        #expect(try g2.stringAttribute("sequence").split(separator: ":").count == 2)
        // Writing into an NMA store is refused.
        let nmaOut = dir.appendingPathComponent("nma.h5").path
        _ = try runPLM(["prepare", "nma", "--structure", PrepareFixtures.path("2BEG_ca.pdb"), "--out", nmaOut, "--quiet"])
        let bad = try runPLM(["prepare", "contact-map", "--structure", PrepareFixtures.path("2BEG_ca.pdb"), "--out", nmaOut, "--quiet"])
        #expect(bad.status != 0 && bad.stderr.contains("not contact maps"), "stderr: \(bad.stderr)")
    }
}

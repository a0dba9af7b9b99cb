import Foundation
import PLMData
import Testing

/// Paths of the `plm prepare md` end-to-end tests (fixtures live with the PLMStructure tests).
enum PrepareMDCLIFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/PLMStructureTests/Fixtures")
    static let topology = fixtures.appendingPathComponent("3tvj_I.pdb").path
    static let trajectory = fixtures.appendingPathComponent("3tvj_I_10frames.dcd").path

    /// MDTraj reference of the 3tvj_I case (scripts/reference/md/make_fixtures.py).
    static func reference() throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("md/md_reference.json"))
        let all = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return (all["cases"] as! [String: Any])["3tvj_I"] as! [String: Any]
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("plm-md-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

@Suite("plm prepare md")
struct PrepareMDCLITests {
    @Test("writes SeqDance MD features that match MDTraj and GetContacts")
    func writesFeatures() throws {
        let dir = try PrepareMDCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("md.h5").path
        let r = try runPLM(["prepare", "md", "--topology", PrepareMDCLIFixtures.topology,
                            "--trajectory", PrepareMDCLIFixtures.trajectory, "--out", out])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("100%"), "progress bar on stderr")
        #expect(r.stderr.contains("wrote 3tvj_I (L=38, 10 frames"))
        let store = try SeqDanceFeatureStore(path: out)
        let rec = try store.read("3tvj_I")
        let ref = try PrepareMDCLIFixtures.reference()
        #expect(rec.metadata.kind == .md && rec.metadata.source == "ATLAS")
        #expect(rec.metadata.sequence == ref["sequence"] as? String)
        let L = 38, T = L + 2
        #expect(rec.residue.shape == [T, 47] && rec.pair.shape == [T, T, 10])
        let res = rec.residue.values, pair = rec.pair.values
        // -1 borders
        #expect(res[0 ..< 47].allSatisfy { $0 == -1 } && res[(T - 1) * 47 ..< T * 47].allSatisfy { $0 == -1 })
        #expect((0 ..< T).allSatisfy { k in pair[k * 10] == -1 && pair[(k * T) * 10 + 9] == -1 })
        #expect((0 ..< T).allSatisfy { k in pair[((T - 1) * T + k) * 10 + 4] == -1 })
        // RMSF column (raw nm) and SASA mean against MDTraj
        let rmsf = (ref["rmsf"] as! [NSNumber]).map(\.doubleValue)
        let sasa = (ref["sasa_mean"] as! [NSNumber]).map(\.doubleValue)
        for i in 0 ..< L {
            #expect(abs(Double(res[(i + 1) * 47 + 2]) - rmsf[i]) < 1e-4)
            #expect(abs(Double(res[(i + 1) * 47]) - sasa[i]) <= 0.01 * max(sasa[i], 0.05))
        }
        // vdw channel: cube root of GetContacts' contacts per frame, symmetric
        let contacts = ref["contacts"] as! [String: Any]
        let vdw = (contacts["pairs"] as! [String: Any])["vdw"] as! [[NSNumber]]
        for p in vdw.prefix(50) {
            let (i, j, c) = (p[0].intValue, p[1].intValue, p[2].doubleValue)
            let want = Float(cbrt(c / 10))
            #expect(abs(pair[((i + 1) * T + j + 1) * 10] - want) < 1e-5)
            #expect(abs(pair[((j + 1) * T + i + 1) * 10] - want) < 1e-5)
        }
    }

    @Test("--name, --source and --stride; an existing name needs --overwrite")
    func options() throws {
        let dir = try PrepareMDCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("md.h5").path
        let args = ["prepare", "md", "--topology", PrepareMDCLIFixtures.topology, "--trajectory", PrepareMDCLIFixtures.trajectory,
                    "--out", out, "--name", "P1", "--source", "mdCATH", "--stride", "3", "--quiet"]
        let r = try runPLM(args)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("4 frames"))
        #expect(!r.stderr.contains("100%"), "--quiet hides the bar")
        let again = try runPLM(args)
        #expect(again.status != 0)
        #expect(again.stderr.contains("already in the store"))
        let forced = try runPLM(args + ["--overwrite"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        let store = try SeqDanceFeatureStore(path: out)
        #expect(store.names == ["P1"])
        #expect(store.entry("P1")?.source == "mdCATH")
    }

    @Test("a topology/trajectory atom-count mismatch fails with a clear message")
    func mismatch() throws {
        let dir = try PrepareMDCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runPLM(["prepare", "md", "--topology", PrepareMDCLIFixtures.topology,
                            "--trajectory", PrepareMDCLIFixtures.fixtures.appendingPathComponent("trpcage_1l2y.xtc").path,
                            "--out", dir.appendingPathComponent("x.h5").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("atom count mismatch: topology 3tvj_I.pdb has 531 atoms, trajectory trpcage_1l2y.xtc has 304"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.h5").path), "nothing written")
    }

    @Test("bad options are usage errors")
    func badOptions() throws {
        let r = try runPLM(["prepare", "md", "--topology", "a.pdb", "--trajectory", "b.xtc", "--out", "c.h5", "--stride", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--stride must be >= 1"))
    }
}

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

    @Test("--dir: one folder per protein in parallel; a failing folder is reported and the others are written; a rerun skips them")
    func directory() throws {
        let dir = try PrepareMDCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fx = PrepareMDCLIFixtures.fixtures, fm = FileManager.default
        let root = dir.appendingPathComponent("atlas")
        func folder(_ name: String, _ files: [(String, String)]) throws {
            let d = root.appendingPathComponent(name)
            try fm.createDirectory(at: d, withIntermediateDirectories: true)
            for (src, dst) in files { try fm.copyItem(at: fx.appendingPathComponent(src), to: d.appendingPathComponent(dst)) }
        }
        try folder("3tvj_I", [("3tvj_I.pdb", "3tvj_I.pdb"), ("3tvj_I_10frames.dcd", "3tvj_I_10frames.dcd")])
        try folder("trpcage", [("trpcage_1l2y.pdb", "trpcage_1l2y.pdb"), ("trpcage_1l2y.xtc", "trpcage_1l2y.xtc"),
                               ("trpcage_1l2y.dcd", "trpcage_1l2y.dcd")])
        try folder("wrong_pair", [("3tvj_I.pdb", "3tvj_I.pdb"), ("ala2_frame0.xtc", "ala2_frame0.xtc")])
        try folder("notes", [])
        let out = dir.appendingPathComponent("md.h5").path
        let args = ["prepare", "md", "--dir", root.path, "--out", out, "--jobs", "2"]

        // Without --prefer the two trpcage trajectories are ambiguous.
        let r0 = try runPLM(args + ["--quiet"])
        #expect(r0.status == 1)
        #expect(r0.stderr.contains("failed trpcage (\(root.path)/trpcage): 2 trajectories (trpcage_1l2y.dcd, trpcage_1l2y.xtc)"), "stderr: \(r0.stderr)")
        try fm.removeItem(atPath: out)

        let r = try runPLM(args + ["--prefer", "xtc"])
        #expect(r.status == 1, "a failed folder makes the exit status 1; stderr: \(r.stderr)")
        #expect(r.stderr.contains("md: 2 written to \(out), 1 skipped, 1 failed"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("skipped notes (\(root.path)/notes): no .xtc or .dcd trajectory in the folder"))
        #expect(r.stderr.contains("failed wrong_pair (\(root.path)/wrong_pair/3tvj_I.pdb + \(root.path)/wrong_pair/ala2_frame0.xtc): atom count mismatch"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("trajectories"), "progress bar counts trajectories")
        let store = try SeqDanceFeatureStore(path: out)
        #expect(store.names().sorted() == ["3tvj_I", "trpcage"])

        // Each protein equals a single-pair run (all cores on its frames) exactly.
        for (name, top, traj) in [("3tvj_I", "3tvj_I.pdb", "3tvj_I_10frames.dcd"), ("trpcage", "trpcage_1l2y.pdb", "trpcage_1l2y.xtc")] {
            let single = dir.appendingPathComponent("\(name)-single.h5").path
            let s1 = try runPLM(["prepare", "md", "--topology", fx.appendingPathComponent(top).path,
                                 "--trajectory", fx.appendingPathComponent(traj).path, "--out", single, "--name", name, "--quiet"])
            #expect(s1.status == 0, "stderr: \(s1.stderr)")
            let a = try SeqDanceFeatureStore(path: single).read(name), b = try store.read(name)
            #expect(a.residue.values == b.residue.values && a.pair.values == b.pair.values, "\(name) differs from the single run")
            #expect(a.metadata.sequence == b.metadata.sequence && b.metadata.kind == .md)
        }
        store.close()

        // A rerun skips what is there (the failed folder still fails).
        let again = try runPLM(args + ["--prefer", "xtc", "--quiet"])
        #expect(again.stderr.contains("md: 0 written to \(out), 3 skipped, 1 failed"), "stderr: \(again.stderr)")
        #expect(again.stderr.contains("skipped 3tvj_I (\(root.path)/3tvj_I/3tvj_I.pdb + \(root.path)/3tvj_I/3tvj_I_10frames.dcd): already in \(out)"))
    }

    @Test("--list: TOPOLOGY TRAJECTORY [NAME] lines; bad lines name the file and line")
    func listFile() throws {
        let dir = try PrepareMDCLIFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fx = PrepareMDCLIFixtures.fixtures.path
        let list = dir.appendingPathComponent("md.txt").path
        try """
        # topology  trajectory  [name]
        \(fx)/trpcage_1l2y.pdb \(fx)/trpcage_1l2y.dcd  trp_dcd
        \(fx)/trpcage_1l2y.pdb \(fx)/trpcage_1l2y.xtc  trp_xtc

        """.write(toFile: list, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("md.h5").path
        let r = try runPLM(["prepare", "md", "--list", list, "--out", out, "--stride", "10", "--quiet", "--verbose"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("md: 2 written to \(out), 0 skipped, 0 failed"))
        #expect(r.stderr.contains("written trp_dcd (\(fx)/trpcage_1l2y.pdb + \(fx)/trpcage_1l2y.dcd): 20 residues"), "stderr: \(r.stderr)")
        let store = try SeqDanceFeatureStore(path: out)
        let d = try store.read("trp_dcd"), x = try store.read("trp_xtc")
        // The DCD holds the XTC's frames in Angstrom: the same features up to XTC's precision.
        let diff = zip(d.residue.values, x.residue.values).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-3, "dcd vs xtc residue features differ by \(diff)")

        try "\(fx)/trpcage_1l2y.pdb\n".write(toFile: list, atomically: true, encoding: .utf8)
        let bad = try runPLM(["prepare", "md", "--list", list, "--out", out])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("\(list):1: expected 'TOPOLOGY TRAJECTORY [NAME]', found 1 column"), "stderr: \(bad.stderr)")
        let half = try runPLM(["prepare", "md", "--topology", "\(fx)/trpcage_1l2y.pdb", "--out", out])
        #expect(half.status != 0 && half.stderr.contains("--topology needs --trajectory"), "stderr: \(half.stderr)")
    }

    @Test("bad options are usage errors")
    func badOptions() throws {
        let r = try runPLM(["prepare", "md", "--topology", "a.pdb", "--trajectory", "b.xtc", "--out", "c.h5", "--stride", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--stride must be >= 1"))
    }
}

import Foundation
import Testing
@testable import PLMStructure

/// Compares a parsed structure with Biopython's view of the same file (reader_reference.json).
func compareWithBiopython(_ s: Structure, _ ref: [String: Any], checkModelNumbers: Bool,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    let models = jArray(ref["models"]).map(jDict)
    #expect(s.models.count == models.count, "model count", sourceLocation: sourceLocation)
    for (mi, (m, r)) in zip(s.models, models).enumerated() {
        if checkModelNumbers {
            #expect(m.number == jInt(r["serial"]), "model \(mi) number", sourceLocation: sourceLocation)
        }
        #expect(m.atomCount == jInt(r["atoms"]), "model \(mi) atoms", sourceLocation: sourceLocation)
        #expect(m.residues.count == jInt(r["residues"]), "model \(mi) residues", sourceLocation: sourceLocation)
        let refChains = jArray(r["chains"]).map(jDict)
        #expect(m.chainIDs == refChains.map { jString($0["id"]) }, "model \(mi) chain ids", sourceLocation: sourceLocation)
        for rc in refChains {
            let id = jString(rc["id"])
            let residues = m.residues(chain: id)
            #expect(residues.count == jInt(rc["residues"]), "chain '\(id)' residues", sourceLocation: sourceLocation)
            #expect(residues.reduce(0) { $0 + $1.atomRange.count } == jInt(rc["atoms"]),
                    "chain '\(id)' atoms", sourceLocation: sourceLocation)
        }
        let lookup = m.atomLookup()
        var compared = 0
        for ra in jArray(r["sample_atoms"]).map(jDict) {
            let key = AtomKey(chain: jString(ra["chain"]), resseq: jInt(ra["resseq"]), icode: jString(ra["icode"]),
                              resname: jString(ra["resname"]), name: jString(ra["name"]))
            guard let a = lookup[key] else {
                Issue.record("model \(mi): atom \(key) missing", sourceLocation: sourceLocation)
                continue
            }
            let xyz = jFloats(ra["xyz"])
            #expect(a.positionFloat == SIMD3(xyz[0], xyz[1], xyz[2]), "\(key) xyz", sourceLocation: sourceLocation)
            #expect(a.altLoc == jString(ra["altloc"]), "\(key) altloc", sourceLocation: sourceLocation)
            #expect(a.occupancy == jDouble(ra["occupancy"]), "\(key) occupancy", sourceLocation: sourceLocation)
            #expect(a.bFactor == jDouble(ra["bfactor"]), "\(key) bfactor", sourceLocation: sourceLocation)
            #expect(a.element == jString(ra["element"]), "\(key) element", sourceLocation: sourceLocation)
            #expect(a.isHetero == (ra["hetero"] as! Bool), "\(key) hetero", sourceLocation: sourceLocation)
            compared += 1
        }
        #expect(compared > 0, sourceLocation: sourceLocation)
    }
}

/// Observed sequences per chain (gemmi FASTA in the shared data) must equal ours.
func compareSequences(_ s: Structure, _ ref: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) {
    guard let seqs = ref["atom_sequences_gemmi"] as? [String: Any] else {
        Issue.record("no reference sequences", sourceLocation: sourceLocation)
        return
    }
    for (chain, seq) in seqs {
        #expect(s.sequence(chain: chain) == jString(seq), "chain \(chain) sequence", sourceLocation: sourceLocation)
    }
}

@Suite("PDB reader vs Biopython / MDTraj / ProDy / gemmi")
struct PDBReaderTests {
    static let files = ["1A8O.pdb", "1DIX.pdb", "3O5R.pdb", "1K6P.pdb", "1LCD.pdb", "1vii_3frames.pdb",
                        "trpcage_1l2y.pdb", "3tvj_I.pdb", "ala2_native.pdb"]

    @Test("atoms, residues, chains, altloc selection and sampled atoms match Biopython", arguments: files)
    func matchesBiopython(file: String) throws {
        let s = try Structure.read(contentsOf: Fixtures.url(file))
        let hasModelRecords = ["1LCD.pdb", "1vii_3frames.pdb", "trpcage_1l2y.pdb", "3tvj_I.pdb"].contains(file)
        compareWithBiopython(s, Fixtures.structure(file), checkModelNumbers: hasModelRecords)
    }

    @Test("observed sequences match gemmi (MSE -> M, numeric altlocs, insertion codes, DNA chains skipped)",
          arguments: ["1A8O.pdb", "1DIX.pdb", "3O5R.pdb", "1K6P.pdb", "1LCD.pdb", "1vii_3frames.pdb"])
    func sequences(file: String) throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url(file))
        compareSequences(s, Fixtures.structure(file))
    }

    @Test("SEQRES sequences match gemmi and Biopython", arguments: ["1A8O.pdb", "1DIX.pdb", "3O5R.pdb", "1K6P.pdb"])
    func seqres(file: String) throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url(file))
        let ref = Fixtures.structure(file)
        for (chain, seq) in jDict(ref["seqres_sequences_gemmi"]) {
            #expect(s.seqresSequence(chain: chain) == jString(seq), "gemmi chain \(chain)")
        }
        for (chain, seq) in jDict(ref["seqres_biopython"]) where s.seqres[chain] != nil {
            #expect(s.seqresSequence(chain: chain) == jString(seq), "Biopython chain \(chain)")
        }
    }

    @Test("CRYST1 matches MDTraj", arguments: ["1A8O.pdb", "1DIX.pdb", "3O5R.pdb", "1K6P.pdb", "trpcage_1l2y.pdb", "3tvj_I.pdb"])
    func cryst1(file: String) throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url(file))
        let md = jDict(Fixtures.structure(file)["mdtraj"])
        let cell = try #require(s.unitCell)
        let lengths = jDoubles(md["cell_lengths_angstrom"]), angles = jDoubles(md["cell_angles"])
        for (mine, ref) in zip([cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma], lengths + angles) {
            #expect(abs(mine - ref) < 1e-4, "\(mine) vs \(ref)")
        }
        #expect(s.atoms.count == jInt(md["atoms"]))
        #expect(s.residues.count == jInt(md["residues"]))
    }

    @Test("atom counts and first/last coordinates match ProDy (files without altlocs)",
          arguments: ["1A8O.pdb", "1DIX.pdb", "1LCD.pdb", "1vii_3frames.pdb", "trpcage_1l2y.pdb", "3tvj_I.pdb", "ala2_native.pdb"])
    func prody(file: String) throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url(file))
        let p = jDict(Fixtures.structure(file)["prody"])
        #expect(s.atoms.count == jInt(p["atoms"]))
        let first = jDoubles(p["first_xyz"]), last = jDoubles(p["last_xyz"])
        // ProDy keeps float64 coordinates; PDB text has 3 decimals.
        #expect(abs(s.atoms[0].x - first[0]) < 1e-9 && abs(s.atoms[0].z - first[2]) < 1e-9)
        #expect(abs(s.atoms.last!.y - last[1]) < 1e-9)
    }

    @Test("elements inferred without an element column match MDTraj (ala2: 1HH3, ACE/NME)")
    func inferredElements() throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url("ala2_native.pdb"))
        let md = jDict(Fixtures.structure("ala2_native.pdb")["mdtraj"])
        #expect(s.atoms.map(\.element) == jArray(md["elements"]).map(jString))
        #expect(s.atoms[0].name == "1HH3")
        #expect(s.chains.map(\.id) == [""])
        #expect(s.residues.map(\.name) == ["ACE", "ALA", "NME"])
        #expect(s.residues.map(\.kind) == [.cap, .aminoAcid, .cap])
        #expect(s.sequence(chain: "") == "A")
        #expect(s.unitCell == nil)
        // Element column present: GROMACS file; both sources must agree with MDTraj too.
        let t = try PDBReader.read(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        let tm = jDict(Fixtures.structure("trpcage_1l2y.pdb")["mdtraj"])
        #expect(t.atoms.map(\.element) == jArray(tm["elements"]).map(jString))
    }

    @Test("GROMACS-written PDB: blank chain, OC1/OC2/H1-H3 names, CRYST1 of a dodecahedron, MODEL 1")
    func gromacsPDB() throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url("trpcage_1l2y.pdb"))
        #expect(s.models.count == 1 && s.models[0].number == 1)
        #expect(s.chains.map(\.id) == [""])
        #expect(s.residues.count == 20)
        #expect(s.sequence(chain: "") == "NLYIQWLKDGGPSSGRPPPS")
        let names = Set(s.atoms.map(\.name))
        #expect(names.isSuperset(of: ["H1", "H2", "H3", "OC1", "OC2"]))
        #expect(s.caCoordinates(chain: "").count == 20)
        let cell = try #require(s.unitCell)
        #expect(cell.alpha == 60 && cell.beta == 60 && cell.gamma == 90 && cell.a == 43.923)
        let charmm = try PDBReader.read(contentsOf: Fixtures.url("3tvj_I.pdb"))
        #expect(charmm.sequence(chain: "") == "GSGEVTCEPGTTFKDKCNTCRCGSDGKSAVCTKLWCNQ")
        #expect(charmm.atoms.contains { $0.name == "OT2" })
    }

    @Test("insertion codes (1DIX) are kept per residue as Biopython reports them")
    func insertionCodes() throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url("1DIX.pdb"))
        let ref = jArray(Fixtures.structure("1DIX.pdb")["insertion_code_residues"]).map(jDict)
        let mine = s.residues.filter { !$0.insertionCode.isEmpty }
        #expect(!ref.isEmpty)
        #expect(mine.map(\.label) == ref.map { "\(jString($0["chain"])):\(jInt($0["resseq"]))\(jString($0["icode"]))" })
        #expect(mine.map(\.name) == ref.map { jString($0["resname"]) })
    }

    @Test("multiple models: independent atom lists, numbering as in the file, model selection API")
    func models() throws {
        let lcd = try PDBReader.read(contentsOf: Fixtures.url("1LCD.pdb"))
        #expect(lcd.models.map(\.atomCount) == [1137, 1125, 1122])
        #expect(lcd.model(number: 2)?.atomCount == 1125)
        #expect(try lcd.model(at: 2).number == 3)
        #expect(lcd.chains.map(\.id) == ["B", "C", "A"])
        #expect(lcd.models[0].residues(chain: "B").filter(\.isPolymer).allSatisfy { $0.kind == .nucleotide })
        #expect(expectIOError { _ = try lcd.model(at: 3) } != nil)
        let first = try PDBReader.read(contentsOf: Fixtures.url("1LCD.pdb"), options: .init(firstModelOnly: true))
        #expect(first.models.count == 1 && first.atoms.count == 1137)

        let vii = try PDBReader.read(contentsOf: Fixtures.url("1vii_3frames.pdb"))
        #expect(vii.models.map(\.number) == [0, 1, 2])
        #expect(vii.models[0].coordinates() == vii.models[2].coordinates())
        let viiSeq = jString(jDict(Fixtures.structure("1vii_3frames.pdb")["atom_sequences_gemmi"])["A"])
        #expect(vii.model(number: 2)?.sequence(chain: "A") == viiSeq)
    }

    @Test("altloc policies: highest occupancy (default), first, all")
    func altLocPolicies() throws {
        let url = Fixtures.url("3O5R.pdb")
        let text = try String(contentsOf: url, encoding: .utf8)
        let records = text.split(separator: "\n").filter { $0.hasPrefix("ATOM") || $0.hasPrefix("HETATM") }
        let all = try PDBReader.read(contentsOf: url, options: .init(altLocs: .all))
        #expect(all.atoms.count == records.count)
        let best = try PDBReader.read(contentsOf: url)
        let first = try PDBReader.read(contentsOf: url, options: .init(altLocs: .first))
        #expect(best.atoms.count == first.atoms.count)
        #expect(best.atoms.count == jInt(jArray(Fixtures.structure("3O5R.pdb")["models"]).map(jDict)[0]["atoms"]))
        // Where the first conformer has the lower occupancy the two policies differ.
        var differing = 0
        for (a, b) in zip(best.atoms, first.atoms) where a.altLoc != b.altLoc {
            #expect(a.occupancy > b.occupancy)
            differing += 1
        }
        #expect(differing > 0)
        // Numeric altloc identifiers (1K6P) are kept as strings.
        let k6p = try PDBReader.read(contentsOf: Fixtures.url("1K6P.pdb"))
        #expect(Set(k6p.atoms.map(\.altLoc)).isSubset(of: ["", "1", "2"]))
        #expect(k6p.atoms.contains { $0.altLoc == "1" })
    }

    @Test("MSE HETATM inside the chain counts as residue M; CA coordinates per chain")
    func modifiedResidues() throws {
        let s = try PDBReader.read(contentsOf: Fixtures.url("1A8O.pdb"))
        let mse = s.residues.filter { $0.name == "MSE" }
        #expect(!mse.isEmpty && mse.allSatisfy { $0.isHetero && $0.kind == .aminoAcid && $0.oneLetterCode == "M" })
        #expect(s.residues.filter { $0.kind == .water }.count == 88)
        let info = try #require(s.firstModel.sequenceInfo(chain: "A"))
        #expect(info.unmappedResidueNames.isEmpty)
        #expect(info.residueIndices.count == 70)
        let ca = s.caCoordinates(chain: "A")
        #expect(ca.count == 70)
        let byChain = s.firstModel.caCoordinatesByChain()
        #expect(byChain.map(\.chainID) == ["A"] && byChain[0].coordinates == ca)
    }

    @Test("residue-name mapping: force-field variants, unknown names reported as X, hybrid-36 numbers")
    func syntheticMapping() throws {
        /// A PDB ATOM line with fields placed at their 1-based columns.
        func line(_ serial: String, _ name: String, _ res: String, _ num: String,
                  record: String = "ATOM", x: String = "   1.000") -> String {
            var cols = [Character](repeating: " ", count: 80)
            func put(_ text: String, _ column: Int) {
                for (k, ch) in text.enumerated() { cols[column - 1 + k] = ch }
            }
            put(record, 1)
            put(String(repeating: " ", count: 5 - serial.count) + serial, 7)
            put(name, name.count < 4 ? 14 : 13)
            put(res, 18); put("A", 22)
            put(String(repeating: " ", count: 4 - num.count) + num, 23)
            put(x + "   2.000   3.000  1.00  0.00", 31)
            put(String(name.prefix(1)), 78)
            return String(cols)
        }
        var lines: [String] = []
        for (i, res) in ["HSD", "HIE", "CYX", "SEP", "XYZ", "TPO", "HOH", "QQQ"].enumerated() {
            let num = String(i + 1)
            let atoms = res == "HOH" ? ["O"] : res == "QQQ" ? ["C1", "O1"] : ["N", "CA", "C"]
            for a in atoms { lines.append(line("\(lines.count + 1)", a, res, num)) }
        }
        lines.append(line("A0000", "N", "GLY", "A000"))   // hybrid-36: serial 100000, residue 10000
        lines.append(line("A0001", "C", "GLY", "A000"))
        // Unknown HETATM residues: in the chain only when covalently linked (C-N within 2 A) to a neighbour.
        for a in ["N", "CA", "C"] { lines.append(line("\(lines.count + 1)", a, "ZZZ", "A001", record: "HETATM")) }
        for a in ["P", "C4'"] { lines.append(line("\(lines.count + 1)", a, "FMX", "A002", record: "HETATM", x: "  50.000")) }
        let s = try PDBReader.parse(Data(lines.joined(separator: "\n").utf8), sourceName: "synthetic.pdb")
        let info = try #require(s.firstModel.sequenceInfo(chain: "A"))
        #expect(info.sequence == "HHCSXTGX")
        #expect(info.unmappedResidueNames == ["XYZ", "ZZZ"])
        #expect(s.residues.map(\.kind) == [.aminoAcid, .aminoAcid, .aminoAcid, .aminoAcid, .aminoAcid,
                                           .aminoAcid, .water, .other, .aminoAcid, .aminoAcid, .other])
        let gly = s.atoms.filter { $0.residueName == "GLY" }
        #expect(gly.map(\.serial) == [100000, 100001] && gly[0].residueNumber == 10000)
        #expect(s.residues.last!.number == 10002)
        #expect(ResidueTable.oneLetterCode(for: "NALA") == "A" && ResidueTable.oneLetterCode(for: "HIP") == "H")
    }
}

extension PDBReaderTests {
    @Test("CRLF line endings, serials overflowing into column 6, missing occupancy/B columns")
    func recordVariants() throws {
        let text = "MODEL        7\r\n"
            + "ATOM 123456  N   ALA B  12      -1.500   2.250  -3.125\r\n"
            + "ATOM  *****  CA  ALA B  12      -1.000   2.000  -3.000  0.50 12.50           C\r\n"
            + "ENDMDL\r\n"
        let s = try PDBReader.parse(Data(text.utf8), sourceName: "variants.pdb")
        #expect(s.models.map(\.number) == [7])
        #expect(s.atoms.count == 2 && s.residues.count == 1 && s.chains.map(\.id) == ["B"])
        #expect(s.atoms[0].position == SIMD3(-1.5, 2.25, -3.125))
        #expect(s.atoms[0].occupancy == 1 && s.atoms[0].bFactor == 0 && s.atoms[0].element == "N")
        #expect(s.atoms[1].serial == -1 && s.atoms[1].occupancy == 0.5 && s.atoms[1].bFactor == 12.5)
    }
}

@Suite("mmCIF reader vs Biopython / MMCIF2Dict")
struct MMCIFReaderTests {
    @Test("auth identifiers: atoms, residues, chains, altlocs and sampled atoms match Biopython",
          arguments: ["1A8O.cif", "3O5R.cif", "1L2Y_models1-3.cif"])
    func matchesBiopython(file: String) throws {
        let s = try MMCIFReader.read(contentsOf: Fixtures.url(file))
        compareWithBiopython(s, Fixtures.structure(file), checkModelNumbers: true)
        compareSequences(s, Fixtures.structure(file))
    }

    @Test("mmCIF and PDB versions of the same entries give identical atoms", arguments: ["1A8O", "3O5R"])
    func sameAsPDB(entry: String) throws {
        let c = try Structure.read(contentsOf: Fixtures.url(entry + ".cif"))
        let p = try Structure.read(contentsOf: Fixtures.url(entry + ".pdb"))
        #expect(c.atoms.count == p.atoms.count)
        for (a, b) in zip(c.atoms, p.atoms) {
            #expect(a.name == b.name && a.residueName == b.residueName && a.residueNumber == b.residueNumber)
            #expect(a.chainID == b.chainID && a.altLoc == b.altLoc && a.element == b.element)
            #expect(a.position == b.position && a.occupancy == b.occupancy && a.bFactor == b.bFactor)
        }
        #expect(c.unitCell == p.unitCell)
        #expect(c.seqresSequence(chain: "A") == p.seqresSequence(chain: "A"))
    }

    @Test("label identifiers: entity-based chains and label_seq_id numbering (MMCIF2Dict)",
          arguments: ["1A8O.cif", "3O5R.cif"])
    func labelScheme(file: String) throws {
        let s = try MMCIFReader.read(contentsOf: Fixtures.url(file), options: .init(identifiers: .label))
        let label = jDict(Fixtures.structure(file)["label"])
        #expect(s.chains.map(\.id) == jArray(label["label_chains"]).map(jString))
        for (chain, n) in jDict(label["label_polymer_residues"]) {
            #expect(s.firstModel.residues(chain: chain).filter(\.isPolymer).count == jInt(n))
        }
        let cell = jDoubles(label["cell"])
        let c = try #require(s.unitCell)
        #expect([c.a, c.b, c.c, c.alpha, c.beta, c.gamma] == cell)
        let all = try MMCIFReader.read(contentsOf: Fixtures.url(file), options: .init(altLocs: .all))
        #expect(all.atoms.count == jInt(label["atom_site_rows"]))
    }

    @Test("models via pdbx_PDB_model_num; firstModelOnly")
    func models() throws {
        let s = try MMCIFReader.read(contentsOf: Fixtures.url("1L2Y_models1-3.cif"))
        #expect(s.models.map(\.number) == [1, 2, 3])
        #expect(s.models.allSatisfy { $0.atomCount == 304 })
        #expect(s.models[0].coordinates() != s.models[1].coordinates())
        #expect(s.sequence(chain: "A") == "NLYIQWLKDGGPSSGRPPPS")
        let one = try MMCIFReader.read(contentsOf: Fixtures.url("1L2Y_models1-3.cif"), options: .init(firstModelOnly: true))
        #expect(one.models.count == 1)
    }

    @Test("tokenizer: quotes, ';' text fields, comments, '.' and '?' values")
    func tokenizer() throws {
        let cif = """
        data_TEST
        _struct.title
        ;A title with 'quotes', "double", # no comment,
        loop_ and _atom_site.fake tags inside
        ;
        _symmetry.space_group_name_H-M 'P 21 21 21'
        _cell.length_a 10.5 _cell.length_b 11 _cell.length_c 12.25
        _cell.angle_alpha 90 _cell.angle_beta 90.0 _cell.angle_gamma 120.
        loop_
        _other.a _other.b
        'it''s' "x y"   # comment after values
        ;multi
        line
        ; ?
        loop_
        _atom_site.group_PDB
        _atom_site.id
        _atom_site.type_symbol
        _atom_site.label_atom_id
        _atom_site.label_alt_id
        _atom_site.label_comp_id
        _atom_site.label_asym_id
        _atom_site.label_seq_id
        _atom_site.pdbx_PDB_ins_code
        _atom_site.Cartn_x
        _atom_site.Cartn_y
        _atom_site.Cartn_z
        _atom_site.occupancy
        _atom_site.B_iso_or_equiv
        _atom_site.auth_seq_id
        _atom_site.auth_asym_id
        _atom_site.pdbx_PDB_model_num
        ATOM   1 P "P"   . DA  B 1 ? 1.5 -2.25 3e1 1.00 5.0 10 X 1
        ATOM   2 O "O5'" . DA  B 1 ? 1.0  2.0  3.0 ?    ?   10 X 1
        HETATM 3 ? "C4'" . DA  B 1 A 0.5 .5  -.5  0.60 7.5 10 X 1
        #
        """
        let s = try MMCIFReader.parse(Data(cif.utf8), sourceName: "test.cif")
        #expect(s.atoms.map(\.name) == ["P", "O5'", "C4'"])
        #expect(s.atoms.map(\.element) == ["P", "O", "C"])  // '?' type_symbol: inferred from the name
        #expect(s.residues.count == 2)  // C4' has insertion code A: a new residue
        let a = s.atoms[0]
        #expect(a.chainID == "X" && a.residueNumber == 10 && a.z == 30 && a.y == -2.25)
        #expect(s.atoms[1].occupancy == 1 && s.atoms[1].bFactor == 0)
        #expect(s.residues[1].insertionCode == "A" && s.residues[1].isHetero)
        #expect(s.spaceGroup == "P 21 21 21")
        #expect(s.unitCell == UnitCell(a: 10.5, b: 11, c: 12.25, alpha: 90, beta: 90, gamma: 120))
        let label = try MMCIFReader.parse(Data(cif.utf8), sourceName: "test.cif", options: .init(identifiers: .label))
        #expect(label.chains.map(\.id) == ["B"] && label.residues[0].number == 1)
        #expect(s.models[0].residues.allSatisfy { $0.kind == .nucleotide })
    }

    @Test("malformed mmCIF reports the line")
    func malformed() throws {
        let base = "data_X\nloop_\n_atom_site.id\n_atom_site.label_atom_id\n_atom_site.label_comp_id\n"
            + "_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n"
        let bad = base + "1 CA ALA 1.0 2.0 3.0\n2 CB ALA 1.0 2.0\n"
        let e1 = expectIOError { _ = try MMCIFReader.parse(Data(bad.utf8), sourceName: "bad.cif") }
        #expect(e1 == .malformedText(file: "bad.cif", line: 10, message: "loop _atom_site has 11 values, not a multiple of its 6 columns"))
        let badNumber = base + "1 CA ALA 1.0 2.x 3.0\n"
        let e2 = expectIOError { _ = try MMCIFReader.parse(Data(badNumber.utf8), sourceName: "bad.cif") }
        #expect(e2?.description == "bad.cif:9: Cartn_y value '2.x' is not a number")
        let unterminated = base + "1 'CA ALA 1.0 2.0 3.0\n"
        let e3 = expectIOError { _ = try MMCIFReader.parse(Data(unterminated.utf8), sourceName: "bad.cif") }
        #expect(e3?.description.hasPrefix("bad.cif:9:") == true)
        let text = "data_X\n_a.b\n;never closed\n"
        let e4 = expectIOError { _ = try MMCIFReader.parse(Data(text.utf8), sourceName: "bad.cif") }
        #expect(e4 == .malformedText(file: "bad.cif", line: 3, message: "unterminated ';' text field"))
        let e5 = expectIOError { _ = try MMCIFReader.parse(Data("data_X\n_a.b 1\n".utf8), sourceName: "none.cif") }
        #expect(e5?.description.contains("no _atom_site loop") == true)
    }
}

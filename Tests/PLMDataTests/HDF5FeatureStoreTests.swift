import Foundation
import Testing
@testable import PLMData

private typealias S = HDF5TestSupport

/// Element-wise check of a token-space record against per-residue inputs:
/// interior values equal the inputs, every special row/column is exactly -1.
private func expectTokenSpace(_ rec: SeqDanceRecord, residue: HDF5Array<Float>, pair: HDF5Array<Float>,
                              special: Set<Int>, sourceLocation: SourceLocation = #_sourceLocation) {
    let L = residue.shape[0], cr = residue.shape[1], cp = pair.shape[2], T = L + 2
    #expect(rec.residue.shape == [T, cr], sourceLocation: sourceLocation)
    #expect(rec.pair.shape == [T, T, cp], sourceLocation: sourceLocation)
    let invalid = special.union([0, L + 1])
    var bad = 0
    for t in 0 ..< T {
        for c in 0 ..< cr {
            let want: Float = invalid.contains(t) ? -1 : residue[t - 1, c]
            if rec.residue[t, c] != want { bad += 1 }
        }
        for u in 0 ..< T {
            for c in 0 ..< cp {
                let want: Float = invalid.contains(t) || invalid.contains(u) ? -1 : pair[t - 1, u - 1, c]
                if rec.pair[t, u, c] != want { bad += 1 }
            }
        }
    }
    #expect(bad == 0, "\(bad) elements differ", sourceLocation: sourceLocation)
}

@Suite("SeqDance feature store")
struct HDF5FeatureStoreTests {
    @Test("column constants follow SEQDANCE.md")
    func columns() {
        typealias R = SeqDanceColumns.MDResidue
        #expect(R.sasaMean == 0 && R.sasaStd == 1 && R.rmsf == 2)
        #expect(R.ss == 3 ..< 11 && R.chi == 11 ..< 23 && R.phi == 23 ..< 35 && R.psi == 35 ..< 47 && R.count == 47)
        #expect(R.names.count == 47 && R.names[3] == "ss_B" && R.names[10] == "ss_coil" && R.names[46] == "psi_11")
        typealias P = SeqDanceColumns.MDPair
        #expect([P.vdw, P.hbbb, P.hbsb, P.hbss, P.hp, P.sb, P.pc, P.ps, P.ts, P.corr] == Array(0 ..< 10))
        #expect(P.names == ["vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts", "corr"])
        #expect(SeqDanceColumns.NMAResidue.names == ["nma_res1", "nma_res2", "nma_res3"])
        #expect(SeqDanceColumns.NMAPair.nmaPair3 == 2 && SeqDanceColumns.NMAPair.count == 3)
        #expect(SeqDanceFeatureKind.md.residueChannels == 47 && SeqDanceFeatureKind.md.pairChannels == 10)
        #expect(SeqDanceFeatureKind.nma.residueChannels == 3 && SeqDanceFeatureKind.nma.pairChannels == 3)
        #expect(SeqDanceFeatureKind(residueChannels: 47, pairChannels: 10) == .md)
        #expect(SeqDanceFeatureKind(residueChannels: 47, pairChannels: 3) == nil)
    }

    @Test("token-space helpers: -1 borders, linkers, strip inverts embed")
    func tokenSpace() throws {
        #expect(SeqDanceTokenSpace.tokenCount("ACD<eos><cls>EF") == 7)
        #expect(SeqDanceTokenSpace.specialPositions(in: "ACD<eos><cls>EF") == [4, 5])
        #expect(SeqDanceTokenSpace.linkerPositions(chainLengths: [3, 2, 4]) == [4, 5, 8, 9])
        let res = HDF5Array(shape: [3, 2], values: [Float](arrayLiteral: 1, 2, 3, 4, 5, 6))
        let e = try SeqDanceTokenSpace.embedResidue(res, specialPositions: [2])
        #expect(e == HDF5Array(shape: [5, 2], values: [-1, -1, 1, 2, -1, -1, 5, 6, -1, -1]))
        let pair = HDF5Array(shape: [2, 2, 1], values: [Float](arrayLiteral: 1, 2, 3, 4))
        let p = try SeqDanceTokenSpace.embedPair(pair)
        #expect(p.values == [-1, -1, -1, -1,
                             -1, 1, 2, -1,
                             -1, 3, 4, -1,
                             -1, -1, -1, -1])
        #expect(try SeqDanceTokenSpace.stripPair(p) == pair)
        #expect(try SeqDanceTokenSpace.stripResidue(try SeqDanceTokenSpace.embedResidue(res)) == res)
        #expect(throws: SeqDanceLayoutError.self) { try SeqDanceTokenSpace.embedResidue(res, specialPositions: [4]) }
        #expect(throws: SeqDanceLayoutError.self) { try SeqDanceTokenSpace.embedPair(res) }
    }

    @Test("round trip: md + multi-chain nma, -1 borders element-wise, metadata, listing")
    func roundTrip() throws {
        let path = try S.temporaryPath("store.h5")
        let md = S.formulaFeatures(L: 5, kind: .md, 0.125, -2, 0.0625, 0.5)
        let nma = S.formulaFeatures(L: 7, kind: .nma, 0.5, 1, 0.25, -3)
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .truncate)
            try store.write(protein: "alpha", residue: md.residue, pair: md.pair, kind: .md, sequence: "MKTAY", source: SeqDanceSource.atlas)
            try store.write(protein: "beta", residue: nma.residue, pair: nma.pair, kind: .nma,
                            sequence: "GS<eos><cls>AVL", source: SeqDanceSource.proteinflow, extraSpecialPositions: [7])
        }
        let store = try SeqDanceFeatureStore(path: path)
        #expect(store.names == ["alpha", "beta"])
        let a = try store.read("alpha")
        #expect(a.metadata == SeqDanceEntry(name: "alpha", sequence: "MKTAY", source: "ATLAS", kind: .md, length: 5))
        expectTokenSpace(a, residue: md.residue, pair: md.pair, special: [])
        #expect(a.residue[1, SeqDanceColumns.MDResidue.rmsf] == Float(2 * 0.125 - 2))
        let b = try store.read("beta")
        #expect(b.metadata.length == 7 && b.metadata.kind == .nma && b.metadata.source == "proteinflow_pdb")
        expectTokenSpace(b, residue: nma.residue, pair: nma.pair, special: [3, 4, 7])
        #expect(b.residue[5, 1] == nma.residue[4, 1] && b.pair[5, 6, 2] == nma.pair[4, 5, 2])
        #expect(store.names(kind: .md) == ["alpha"] && store.names(source: "proteinflow_pdb") == ["beta"])
        #expect(store.names(kind: .nma, source: "ATLAS").isEmpty)
        // The raw layout, read through the plain wrapper.
        let file = try HDF5File.open(path)
        #expect(try file.childNames() == ["alpha_pair_feature", "alpha_res_feature", "beta_pair_feature", "beta_res_feature", "metadata"])
        #expect(try file.readStrings("metadata/kind").values == ["md", "nma"])
        #expect(try file.read("metadata/length", as: Int64.self).values == [5, 7])
        #expect(try file.stringAttribute("layout") == "seqdance-features")
        #expect(try file.dataset("beta_pair_feature").info().dataType == .float(bits: 32))
    }

    @Test("append keeps earlier proteins; duplicates need overwrite; overwrite updates metadata in place")
    func appendAndOverwrite() throws {
        let path = try S.temporaryPath("append.h5")
        let one = S.formulaFeatures(L: 4, kind: .md, 1, 0, 1, 0)
        let two = S.formulaFeatures(L: 3, kind: .nma, 2, 1, 3, 1)
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .append)
            try store.write(protein: "p1", residue: one.residue, pair: one.pair, kind: .md, sequence: "ACDE", source: "ATLAS")
        }
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .append, featureOptions: .compressed())
            #expect(store.names == ["p1"])
            try store.write(protein: "p2", residue: two.residue, pair: two.pair, kind: .nma, sequence: "KLM", source: "proteinflow_pdb")
            let dup = S.hdf5Error {
                try store.write(protein: "p1", residue: two.residue, pair: two.pair, kind: .nma, sequence: "KLM", source: "PED")
            }
            #expect(dup?.kind == .alreadyExists && dup?.description.contains("p1") == true && dup?.file == path)
            try store.write(protein: "p1", residue: two.residue, pair: two.pair, kind: .nma, sequence: "KLM", source: "PED", overwrite: true)
        }
        let store = try SeqDanceFeatureStore(path: path)
        #expect(store.names == ["p1", "p2"])
        #expect(store.entry("p1") == SeqDanceEntry(name: "p1", sequence: "KLM", source: "PED", kind: .nma, length: 3))
        expectTokenSpace(try store.read("p1"), residue: two.residue, pair: two.pair, special: [])
        expectTokenSpace(try store.read("p2"), residue: two.residue, pair: two.pair, special: [])
        #expect(try store.file.dataset("p2_pair_feature").info().gzipLevel == 4)
        #expect(try store.file.read("metadata/length", as: Int64.self).values == [3, 3])
    }

    @Test("bad input and bad files give typed errors naming the file and the dataset")
    func errors() throws {
        let path = try S.temporaryPath("errors.h5")
        let f = S.formulaFeatures(L: 5, kind: .md, 1, 0, 1, 0)
        let store = try SeqDanceFeatureStore(path: path, mode: .truncate)
        let wrongL = S.hdf5Error { try store.write(protein: "x", residue: f.residue, pair: f.pair, kind: .md, sequence: "ACDEFG", source: "ATLAS") }
        #expect(wrongL?.kind == .shapeMismatch && wrongL?.object == "/x_res_feature")
        let wrongKind = S.hdf5Error { try store.write(protein: "x", residue: f.residue, pair: f.pair, kind: .nma, sequence: "ACDEF", source: "ATLAS") }
        #expect(wrongKind?.kind == .shapeMismatch)
        let badName = S.hdf5Error { try store.write(protein: "a/b", residue: f.residue, pair: f.pair, kind: .md, sequence: "ACDEF", source: "ATLAS") }
        #expect(badName?.kind == .invalidArgument)
        let badPos = S.hdf5Error {
            try store.write(protein: "x", residue: f.residue, pair: f.pair, kind: .md, sequence: "ACDEF", source: "ATLAS", extraSpecialPositions: [6])
        }
        #expect(badPos?.kind == .invalidArgument)
        var tok = try SeqDanceTokenSpace.embedResidue(f.residue)
        tok[0, 3] = 0.5
        let border = S.hdf5Error {
            try store.writeTokenSpace(protein: "x", residue: tok, pair: try SeqDanceTokenSpace.embedPair(f.pair), kind: .md, sequence: "ACDEF", source: "ATLAS")
        }
        #expect(border?.kind == .invalidLayout && border?.description.contains("BOS") == true)
        #expect(store.names.isEmpty)
        let missing = S.hdf5Error { _ = try store.read("nope") }
        #expect(missing?.kind == .notFound && missing?.description.contains("nope") == true)
        store.close()

        // A file whose metadata disagrees with its feature shapes.
        do {
            let file = try HDF5File.open(path, mode: .readWrite)
            try file.write("x_res_feature", [Float](repeating: -1, count: 7 * 47), shape: [7, 47])
            try file.write("x_pair_feature", [Float](repeating: -1, count: 7 * 7 * 10), shape: [7, 7, 10])
            let meta = try file.group("metadata")
            try meta.dataset("name").appendStrings(["x"])
            try meta.dataset("sequence").appendStrings(["ACDEFG"])  // 6 tokens, features say L=5
            try meta.dataset("source").appendStrings(["ATLAS"])
            try meta.dataset("kind").appendStrings(["md"])
            try meta.dataset("length").append([Int64(5)], rows: 1)
        }
        let bad = try SeqDanceFeatureStore(path: path)
        let e = S.hdf5Error { _ = try bad.read("x") }
        #expect(e?.kind == .invalidLayout && e?.object == "/x_res_feature" && e?.description.contains(path) == true)

        // Non-HDF5 and missing files.
        let text = try S.temporaryPath("text.h5")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        #expect(S.hdf5Error { _ = try SeqDanceFeatureStore(path: text) }?.kind == .notHDF5)
        #expect(S.hdf5Error { _ = try SeqDanceFeatureStore(path: text + ".missing") }?.kind == .fileNotFound)
    }

    @Test("a published-style file without /metadata is scanned, and back-filled on append")
    func legacyFile() throws {
        let path = try S.temporaryPath("legacy.h5")
        let f = S.formulaFeatures(L: 2, kind: .nma, 1, 0, 1, 0)
        do {
            let file = try HDF5File.create(path)
            try file.write("Q1_res_feature", try SeqDanceTokenSpace.embedResidue(f.residue))
            try file.write("Q1_pair_feature", try SeqDanceTokenSpace.embedPair(f.pair))
        }
        let ro = try SeqDanceFeatureStore(path: path)
        #expect(ro.entries == [SeqDanceEntry(name: "Q1", sequence: "", source: "", kind: .nma, length: 2)])
        expectTokenSpace(try ro.read("Q1"), residue: f.residue, pair: f.pair, special: [])
        ro.close()
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .append)
            try store.write(protein: "Q2", residue: f.residue, pair: f.pair, kind: .nma, sequence: "AC", source: "PED")
        }
        let store = try SeqDanceFeatureStore(path: path)
        #expect(store.names == ["Q1", "Q2"] && store.entry("Q2")?.source == "PED")
    }
}

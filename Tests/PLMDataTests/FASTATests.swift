import Foundation
import Testing
@testable import PLMData

private func fixture(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/fasta/\(name)")
}

private func fastaError(_ body: () throws -> Void) -> FASTAError? {
    do { try body() } catch let e as FASTAError { return e } catch { return nil }
    return nil
}

private func temporaryFile(_ name: String, _ contents: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("plmdata-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(contents.utf8).write(to: url)
    return url
}

@Suite("FASTA reader and writer")
struct FASTATests {
    @Test("real SeqDance excerpt: ids, descriptions, lengths, a two-chain record")
    func seqdanceSample() throws {
        let records = try FASTAReader.read(url: fixture("seqdance_sample.fasta"))
        #expect(records.count == 5)
        #expect(records.map(\.id) == ["Q15406_153_246", "Q8IVJ1_1_98", "P25054_236_324", "Q9UPN4_1_261", "train_1ov9-1"])
        #expect(records.map(\.line) == [1, 4, 7, 10, 16])
        #expect(records[0].description == "source=IDRome chains=1 length=94 separator=:")
        #expect(records[0].sequence.hasPrefix("IERIMSGQEF") && records[0].sequence.hasSuffix("PLLPQQARSL"))
        // Residue counts (separators excluded) agree with the headers' length= field.
        let residues = records.map { $0.sequence.filter { $0 != ":" }.count }
        #expect(residues == [94, 98, 89, 261, 93])
        for r in records {
            let field = r.description.split(separator: " ").first { $0.hasPrefix("length=") }!
            #expect(Int(field.dropFirst(7)) == r.sequence.filter { $0 != ":" }.count, "\(r.id)")
        }
        let complex = records[4]
        #expect(complex.sequence.split(separator: ":").map(\.count) == [45, 48])
        let tokens = try Tokenizer().encode(complex)
        #expect(tokens.count == 93 + 4)
        #expect(Array(tokens[45...48]) == [9, 2, 0, 9])   // last E of chain 1, <eos>, <cls>, first E of chain 2
    }

    @Test("real UniRef50 excerpt with single-line sequences")
    func unirefSample() throws {
        let records = try FASTAReader.read(url: fixture("uniref50_sample.fasta"), options: .init(validateResidues: true))
        #expect(records.map(\.id) == ["UniRef50_A0A1E3NP16", "UniRef50_UPI000836A30F", "UniRef50_A0A2G8L8Y3", "UniRef50_A0A1D5ZRM3"])
        #expect(records.map(\.sequence.count) == [428, 222, 502, 156])
        #expect(records.allSatisfy { $0.description.isEmpty })
        let batch = try Tokenizer().encodeBatch(records)
        #expect(batch.tokens.shape == [4, 504])
        #expect(batch.lengths == [430, 224, 504, 158])
        #expect(batch.padMask.values[504 + 224] && !batch.padMask.values[504 + 223])
    }

    @Test("streaming across tiny read chunks gives the same records")
    func streamingChunks() throws {
        let whole = try FASTAReader.read(url: fixture("seqdance_sample.fasta"))
        for chunk in [1, 2, 7, 64] {
            let reader = try FASTAReader(url: fixture("seqdance_sample.fasta"), options: .init(), chunkSize: chunk)
            #expect(try reader.readAll() == whole, "chunk \(chunk)")
        }
        // Sequence conformance.
        let reader = try FASTAReader(url: fixture("seqdance_sample.fasta"))
        var ids: [String] = []
        for r in reader { ids.append(r.id) }
        #expect(ids.count == 5 && reader.error == nil)
    }

    @Test("CRLF, blank lines, comments, BOM, spaces and a terminal '*'")
    func formatting() throws {
        let text = "\u{FEFF}\r\n>sp|P1|X  desc here \r\nMKV LL\r\n\r\nAC*\r\n;comment\r\n>b\r\n\tWW\r\n  \r\n>c\r\nmkv"
        let records = try FASTAReader.parse(text, name: "t.fasta")
        #expect(records == [
            FASTARecord(id: "sp|P1|X", description: "desc here", sequence: "MKVLLAC", line: 2),
            FASTARecord(id: "b", description: "", sequence: "WW", line: 7),
            FASTARecord(id: "c", description: "", sequence: "mkv", line: 10),
        ])
        #expect(records[0].header == "sp|P1|X desc here")
        // Same bytes through a file and 3-byte chunks (CR and LF split across reads).
        let url = try temporaryFile("crlf.fasta", text)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(try FASTAReader(url: url, options: .init(), chunkSize: 3).readAll().map(\.sequence) == ["MKVLLAC", "WW", "mkv"])
    }

    @Test("errors name the file and line")
    func errors() throws {
        #expect(throws: FASTAError.sequenceBeforeHeader(file: "x.fa", line: 3)) {
            try FASTAReader.parse("\n\nMKV\n>a\nMK\n", name: "x.fa")
        }
        let empty = fastaError { _ = try FASTAReader.parse(">a\nMK\n>b desc\n\n>c\nLL\n", name: "x.fa") }
        #expect(empty == .emptyRecord(file: "x.fa", line: 3, id: "b"))
        #expect(empty?.description == "x.fa:3: record 'b' has no sequence")
        #expect(throws: FASTAError.emptyRecord(file: "x.fa", line: 2, id: "z")) { try FASTAReader.parse("\n>z\n", name: "x.fa") }
        #expect(throws: FASTAError.emptyRecord(file: "x.fa", line: 1, id: "s")) { try FASTAReader.parse(">s\n*\n>t\nM", name: "x.fa") }
        let dup = fastaError { _ = try FASTAReader.parse(">a\nMK\n>b x\nLL\n>a again\nW\n", name: "x.fa") }
        #expect(dup == .duplicateID(file: "x.fa", line: 5, id: "a", firstLine: 1))
        #expect(dup?.description == "x.fa:5: duplicate id 'a' (first seen on line 1)")
        let allowed = try FASTAReader.parse(">a\nMK\n>b x\nLL\n>a again\nW\n", options: .init(rejectDuplicateIDs: false))
        #expect(allowed.map(\.id) == ["a", "b", "a"] && allowed[2].description == "again")
        #expect(throws: FASTAError.emptyID(file: "x.fa", line: 2)) { try FASTAReader.parse("\n> desc\nMK\n", name: "x.fa") }
        #expect(throws: FASTAError.emptyID(file: "x.fa", line: 1)) { try FASTAReader.parse(">\nMK\n", name: "x.fa") }
        // A stop codon that is not at the end.
        let star = fastaError { _ = try FASTAReader.parse(">a\nMK*\nLL\n", name: "x.fa") }
        #expect(star == .invalidCharacter(file: "x.fa", line: 2, column: 3, character: "*", id: "a"))
        #expect(star?.description == "x.fa:2:3: invalid character '*' in record 'a'")
        let missing = fastaError { _ = try FASTAReader.read(url: URL(fileURLWithPath: "/nonexistent/q.fasta")) }
        #expect(missing?.description.hasPrefix("/nonexistent/q.fasta: cannot read FASTA") == true)
    }

    @Test("invalid characters: with line numbers when validating, else from the tokenizer")
    func invalidCharacters() throws {
        let text = ">ok\nMKV\n>bad one\nMKV\nMJ1\n"
        #expect(throws: FASTAError.invalidCharacter(file: "v.fa", line: 5, column: 2, character: "J", id: "bad")) {
            try FASTAReader.parse(text, name: "v.fa", options: .init(validateResidues: true))
        }
        let records = try FASTAReader.parse(text, name: "v.fa")
        #expect(records[1].sequence == "MKVMJ1")
        #expect(throws: TokenizerError.invalidCharacter(id: "bad", position: 5, character: "J")) {
            try Tokenizer().encode(records[1])
        }
        // Multi-chain separators and gaps pass validation.
        #expect(try FASTAReader.parse(">m\nAC:de/F.-\n", options: .init(validateResidues: true))[0].sequence == "AC:de/F.-")
    }

    @Test("writer wraps lines and round-trips the real file byte for byte")
    func writer() throws {
        let url = fixture("seqdance_sample.fasta")
        let records = try FASTAReader.read(url: url)
        #expect(FASTAWriter.format(records, lineWidth: 60) == (try String(contentsOf: url, encoding: .utf8)))
        let short = [FASTARecord(id: "a", description: "d e", sequence: "ABCDEFG"), FASTARecord(id: "b", sequence: "MK")]
        #expect(FASTAWriter.format(short, lineWidth: 3) == ">a d e\nABC\nDEF\nG\n>b\nMK\n")
        #expect(FASTAWriter.format(short, lineWidth: 0) == ">a d e\nABCDEFG\n>b\nMK\n")
        let out = try temporaryFile("out.fasta", "")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        try FASTAWriter.write(records, to: out)
        #expect(try FASTAReader.read(url: out) == records)
        #expect(throws: FASTAError.self) { try FASTAWriter.write([FASTARecord(id: "two words", sequence: "M")], to: out) }
    }
}

import Foundation
import Testing
import PLMKit

@Suite("Scoring CSV")
struct ScoringCSVTests {
    @Test("quoted fields, doubled quotes, embedded commas and newlines, CRLF, BOM, blank lines")
    func parsesQuoted() throws {
        let text = "\u{FEFF}mutant,note,DMS_score\r\nA1G,\"hello, world\",1.5\r\n\r\n\"K2R\",\"say \"\"hi\"\"\",-2\nL3P,\"two\nlines\",\n"
        let t = try ScoringCSV.parse(text, file: "x.csv")
        #expect(t.header == ["mutant", "note", "DMS_score"])
        #expect(t.rows == [["A1G", "hello, world", "1.5"], ["K2R", "say \"hi\"", "-2"], ["L3P", "two\nlines", ""]])
        #expect(t.lines == [2, 4, 5])
        #expect(t.column(["mutant", "mutation"]) == 0)
        #expect(t.column(["mutation"]) == nil)
    }

    @Test("no trailing newline; a last empty field")
    func noTrailingNewline() throws {
        #expect(try ScoringCSV.parse("a,b\n1,").rows == [["1", ""]])
        #expect(try ScoringCSV.parse("a,b\n1,\"2\"").rows == [["1", "2"]])
    }

    @Test("errors name the file and line")
    func errors() {
        #expect(throws: ScoringCSVError.fieldCount(file: "f.csv", line: 3, expected: 2, got: 3)) {
            try ScoringCSV.parse("a,b\n1,2\n1,2,3\n", file: "f.csv")
        }
        #expect(throws: ScoringCSVError.unterminatedQuote(file: "f.csv", line: 2)) {
            try ScoringCSV.parse("a,b\n1,\"2\n3\n", file: "f.csv")
        }
        #expect(throws: ScoringCSVError.characterAfterQuote(file: "f.csv", line: 2, character: "x")) {
            try ScoringCSV.parse("a,b\n1,\"2\"x\n", file: "f.csv")
        }
        #expect(throws: ScoringCSVError.empty(file: "f.csv")) { try ScoringCSV.parse("\n\n", file: "f.csv") }
        #expect(ScoringCSVError.fieldCount(file: "f.csv", line: 3, expected: 2, got: 3).description == "f.csv:3: 3 fields, the header has 2")
    }

    @Test("format escapes what needs it and round-trips")
    func roundTrip() throws {
        let header = ["mutant", "note", "score"]
        let rows = [["A1G", "a, b", "0.5"], ["K2R", "q\"uote", "-1"], ["L3P", "multi\r\nline", ""]]
        let text = ScoringCSV.format(header: header, rows: rows)
        #expect(text.hasPrefix("mutant,note,score\nA1G,\"a, b\",0.5\nK2R,\"q\"\"uote\",-1\n"))
        let back = try ScoringCSV.parse(text)
        #expect(back.header == header && back.rows == rows)
        #expect(ScoringCSV.formatScore(-0.49828934669494629) == "-0.498289")
        #expect(ScoringCSV.formatScore(.nan) == "nan")
    }

    @Test("atomic write replaces the file and leaves no temporary behind")
    func atomicWrite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plm-score-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.csv")
        try ScoringCSV.writeAtomically("old\n", to: url)
        try ScoringCSV.writeAtomically("a,b\n1,2\n", to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "a,b\n1,2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.csv"])
        #expect(throws: ScoringCSVError.self) {
            try ScoringCSV.writeAtomically("x", to: dir.appendingPathComponent("missing/out.csv"))
        }
    }
}

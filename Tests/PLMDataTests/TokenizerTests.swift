import Testing
import PLMData
import PLMTensor

@Suite("alphabet and tokenizer")
struct TokenizerTests {
    let tok = Tokenizer()

    @Test("ESM alphabet: 33 tokens in fair-esm order")
    func alphabetOrder() {
        let a = Alphabet.esm
        #expect(a.count == 33)
        #expect(a.tokens == ["<cls>", "<pad>", "<eos>", "<unk>",
                             "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y",
                             "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"])
        #expect(a.clsIndex == 0 && a.padIndex == 1 && a.eosIndex == 2 && a.unkIndex == 3 && a.maskIndex == 32)
        #expect(a.index(of: "W") == 22 && a.index(of: "<null_1>") == 31 && a.index(of: "J") == nil)
        #expect(a.index(ofResidue: UInt8(ascii: "C")) == 23 && a.index(ofResidue: UInt8(ascii: "c")) == nil)
        #expect(a.token(28) == "O" && a.token(33) == nil && a.token(-1) == nil)
    }

    @Test("known sequences encode to the ESM ids")
    func knownSequences() throws {
        // M=20 K=15 T=11 A=5 Y=19 I=12 ; <cls>=0 <eos>=2
        #expect(try tok.encode("MKTAYIAK") == [0, 20, 15, 11, 5, 19, 12, 5, 15, 2])
        #expect(try tok.encode("LAGVSERTIDPKQNFYMHWCXBUZO.-") == [0] + (4...30).map(Int32.init) + [2])
        #expect(try tok.encode("G") == [0, 6, 2])
        #expect(tok.decode(try tok.encode("MKTAYIAK")) == "<cls>MKTAYIAK<eos>")
    }

    @Test("lower case is accepted")
    func lowerCase() throws {
        #expect(try tok.encode("mktayiak") == tok.encode("MKTAYIAK"))
        #expect(try tok.encode("MkTaY") == [0, 20, 15, 11, 5, 19, 2])
    }

    @Test("chains separated by ':' or '/' are joined with <eos><cls>")
    func multiChain() throws {
        #expect(try tok.encode("AC:DE") == [0, 5, 23, 2, 0, 13, 9, 2])
        #expect(try tok.encode("AC/DE") == [0, 5, 23, 2, 0, 13, 9, 2])
        #expect(try tok.encode("A:C/D") == [0, 5, 2, 0, 23, 2, 0, 13, 2])
        #expect(throws: TokenizerError.emptyChain(id: "x", position: 4)) { try tok.encode("AC::DE", id: "x") }
        #expect(throws: TokenizerError.emptyChain(id: "x", position: 1)) { try tok.encode(":AC", id: "x") }
        #expect(throws: TokenizerError.emptyChain(id: "x", position: 3)) { try tok.encode("AC:", id: "x") }
    }

    @Test("special tokens written inline")
    func inlineSpecials() throws {
        #expect(try tok.encode("MK<mask>V") == [0, 20, 15, 32, 7, 2])
        #expect(try tok.encode("<unk>a") == [0, 3, 5, 2])
        #expect(throws: TokenizerError.unknownSpecialToken(id: "s", position: 3, token: "<foo>")) {
            try tok.encode("MK<foo>V", id: "s")
        }
        #expect(throws: TokenizerError.unterminatedSpecialToken(id: "s", position: 2)) { try tok.encode("M<mask", id: "s") }
    }

    @Test("invalid characters name the record, 1-based position and character")
    func invalidCharacters() {
        do {
            _ = try tok.encode("MKTJAY", id: "P12345")
            Issue.record("expected an error")
        } catch let e as TokenizerError {
            #expect(e == .invalidCharacter(id: "P12345", position: 4, character: "J"))
            #expect(e.description == "sequence 'P12345': invalid character 'J' at position 4")
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: TokenizerError.invalidCharacter(id: "s", position: 3, character: "*")) { try tok.encode("MK*", id: "s") }
        #expect(throws: TokenizerError.invalidCharacter(id: "s", position: 2, character: "1")) { try tok.encode("M1", id: "s") }
        #expect(throws: TokenizerError.invalidCharacter(id: "s", position: 3, character: "é")) { try tok.encode("MKé", id: "s") }
        let space = TokenizerError.invalidCharacter(id: "s", position: 2, character: " ")
        #expect(throws: space) { try tok.encode("M K", id: "s") }
        #expect(space.description == "sequence 's': invalid character U+20 at position 2")
        #expect(throws: TokenizerError.emptySequence(id: "s")) { try tok.encode("", id: "s") }
    }

    @Test("batch encoding right-pads with <pad> and marks padding")
    func batchPadding() throws {
        let batch = try tok.encodeBatch([(id: "a", sequence: "MK"), (id: "b", sequence: "ACDE"), (id: "c", sequence: "G:G")])
        #expect(batch.tokens.shape == [3, 6] && batch.padMask.shape == [3, 6])
        #expect(batch.tokens.values == [0, 20, 15, 2, 1, 1,
                                        0, 5, 23, 13, 9, 2,
                                        0, 6, 2, 0, 6, 2])
        #expect(batch.padMask.values == [false, false, false, false, true, true,
                                         false, false, false, false, false, false,
                                         false, false, false, false, false, false])
        #expect(batch.lengths == [4, 6, 6] && batch.ids == ["a", "b", "c"])
        #expect(batch.batchSize == 3 && batch.length == 6)

        let fixed = try tok.encodeBatch([(id: "a", sequence: "MK")], length: 5, padToMultipleOf: 4)
        #expect(fixed.tokens.shape == [1, 8])
        #expect(fixed.tokens.values == [0, 20, 15, 2, 1, 1, 1, 1])
        #expect(fixed.padMask.values.filter { $0 }.count == 4)
        #expect(throws: TokenizerError.tooLong(id: "b", tokens: 6, limit: 5)) {
            try tok.encodeBatch([(id: "a", sequence: "MK"), (id: "b", sequence: "ACDE")], length: 5)
        }
        // Errors inside a batch name the record.
        #expect(throws: TokenizerError.invalidCharacter(id: "bad", position: 2, character: "#")) {
            try tok.encodeBatch([(id: "ok", sequence: "MK"), (id: "bad", sequence: "M#")])
        }
        let empty = try tok.encodeBatch([(id: String, sequence: String)]())
        #expect(empty.tokens.shape == [0, 0])
    }

    @Test("FASTA records encode with their ids")
    func records() throws {
        let r = FASTARecord(id: "rec1", sequence: "mkv:LL")
        #expect(try tok.encode(r) == [0, 20, 15, 7, 2, 0, 4, 4, 2])
        #expect(throws: TokenizerError.invalidCharacter(id: "rec2", position: 1, character: "?")) {
            try tok.encode(FASTARecord(id: "rec2", sequence: "?"))
        }
        let batch = try tok.encodeBatch([r, FASTARecord(id: "r2", sequence: "W")])
        #expect(batch.ids == ["rec1", "r2"] && batch.tokens.shape == [2, 9])
        #expect(Array(batch.tokens.values[9...]) == [0, 22, 2, 1, 1, 1, 1, 1, 1])
    }
}

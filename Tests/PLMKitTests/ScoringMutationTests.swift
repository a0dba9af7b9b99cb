import Foundation
import Testing
import PLMKit

@Suite("Mutation parsing and validation")
struct ScoringMutationTests {
    //                 1234567890
    let wt = "MKTAYIAKQR"
    var parser: MutationParser { MutationParser(wildType: wt) }

    @Test("singles, multi-mutants and lists")
    func parses() throws {
        let m = try parser.parseMutation("K2G")
        #expect(m == Mutation(wildType: "K", position: 2, mutant: "G"))
        #expect(m.description == "K2G")
        let v = try parser.parseVariant("K2G:A4W")
        #expect(v.mutations.map(\.position) == [2, 4])
        #expect(v.description == "K2G:A4W")
        #expect(v.applied(to: wt) == "MGTWYIAKQR")
        let list = try parser.parseList("K2G, A4W:Y5F ,r10d")
        #expect(list.map(\.description) == ["K2G", "A4W:Y5F", "R10D"])
        #expect(try parser.parseVariant("M1M").mutations[0].isSynonymous)
        // Lower-case wild types work too.
        #expect(try MutationParser(wildType: wt.lowercased()).parseVariant("K2G").description == "K2G")
    }

    @Test("a wrong wild-type residue names the mutation and the actual residue")
    func wildTypeMismatch() {
        #expect(throws: MutationError.wildTypeMismatch(mutation: "A2G", position: 2, expected: "A", actual: "K")) {
            try parser.parseList("M1A,A2G")
        }
        let text = MutationError.wildTypeMismatch(mutation: "A2G", position: 2, expected: "A", actual: "K").description
        #expect(text.contains("A2G") && text.contains("has K at position 2"))
    }

    @Test("positions out of range")
    func outOfRange() {
        #expect(throws: MutationError.positionOutOfRange(mutation: "R11A", position: "11", length: 10)) { try parser.parseVariant("R11A") }
        #expect(throws: MutationError.positionOutOfRange(mutation: "M0A", position: "0", length: 10)) { try parser.parseVariant("M0A") }
        #expect(throws: MutationError.positionOutOfRange(mutation: "M99999999999999999999999A", position: "99999999999999999999999", length: 10)) {
            try parser.parseVariant("M99999999999999999999999A")
        }
        #expect(MutationError.positionOutOfRange(mutation: "R11A", position: "11", length: 10).description.contains("1...10"))
    }

    @Test("invalid amino-acid letters")
    func invalidLetters() {
        #expect(throws: MutationError.invalidAminoAcid(mutation: "K2J", letter: "J")) { try parser.parseVariant("K2J") }
        #expect(throws: MutationError.invalidAminoAcid(mutation: "K2*", letter: "*")) { try parser.parseVariant("K2*") }
        #expect(throws: MutationError.invalidAminoAcid(mutation: "#2G", letter: "#")) { try parser.parseVariant("#2G") }
        #expect(MutationError.invalidAminoAcid(mutation: "K2J", letter: "J").description.contains("'J'"))
    }

    @Test("malformed mutations")
    func malformed() {
        for text in ["K2", "2G", "KG", "K2.5G", "K-2G", "K2GG", "p.Lys2Gly"] {
            #expect(throws: MutationError.malformed(mutation: text)) { try parser.parseVariant(text) }
        }
    }

    @Test("the same position twice in one variant")
    func duplicate() {
        #expect(throws: MutationError.duplicatePosition(variant: "K2G:K2A", position: 2)) { try parser.parseVariant("K2G:K2A") }
        #expect(throws: MutationError.duplicatePosition(variant: "K2G:A4W:K2G", position: 2)) { try parser.parseVariant("K2G:A4W:K2G") }
        // Across variants of a list it is fine.
        #expect(throws: Never.self) { try parser.parseList("K2G,K2A") }
    }

    @Test("empty variants and mutations")
    func empty() {
        #expect(throws: MutationError.emptyVariant(index: 2)) { try parser.parseList("K2G,,A4W") }
        #expect(throws: MutationError.emptyVariant(index: 2)) { try parser.parseList("K2G,") }
        #expect(throws: MutationError.emptyVariant(index: 1)) { try parser.parseList(" ,K2G") }
        #expect(throws: MutationError.noVariants) { try parser.parseList("  ") }
        #expect(throws: MutationError.emptyVariant(index: 1)) { try parser.parseVariant("") }
        #expect(throws: MutationError.emptyMutation(variant: "K2G::A4W")) { try parser.parseVariant("K2G::A4W") }
        #expect(throws: MutationError.emptyMutation(variant: "K2G:")) { try parser.parseVariant("K2G:") }
    }

    @Test("the scorer rejects bad wild types and unchecked variants before any pass")
    func scorerValidation() throws {
        #expect(throws: ScoringError.unsupportedWildType(position: 4, character: ":")) { try VariantScorer.wildTypeTokens("MKT:AY") }
        #expect(throws: ScoringError.unsupportedWildType(position: 3, character: "<")) { try VariantScorer.wildTypeTokens("MK<mask>T") }
        #expect(throws: (any Error).self) { try VariantScorer.wildTypeTokens("MKT1AY") }
        do {
            _ = try VariantScorer.wildTypeTokens("MKT1AY")
        } catch {
            #expect("\(error)".contains("'1'") && "\(error)".contains("position 4"))
        }
        #expect(try VariantScorer.wildTypeTokens("mka") == [20, 15, 5])
        let scorer = try ScoringFixture.scorer()
        #expect(throws: MutationError.wildTypeMismatch(mutation: "A2G", position: 2, expected: "A", actual: "K")) {
            try scorer.score([Variant(mutations: [Mutation(wildType: "A", position: 2, mutant: "G")])], wildType: wt, method: .maskedMarginal)
        }
        #expect(throws: ScoringError.invalidOption(name: "max-tokens", reason: "must be at least 1, got 0")) {
            try VariantScorer(model: scorer.model, maxTokens: 0)
        }
    }
}

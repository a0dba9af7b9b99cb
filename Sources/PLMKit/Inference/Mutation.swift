// Substitution variants in the ProteinGym / ESM-1v notation: `A12G` is one
// substitution (wild-type letter, 1-based position, mutant letter); a variant
// with several substitutions joins them with ':' (`A12G:K40R`); a list of
// variants separates them with ',' (`A12G,K40R:L41P`).

/// Why a mutation, variant or list of variants was rejected. Every case names
/// the text at fault; positions are 1-based residue positions.
public enum MutationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not of the form letter, digits, letter (e.g. `A12`, `12G`, `A1.5G`).
    case malformed(mutation: String)
    /// The wild-type or mutant letter is not an amino acid of the ESM alphabet.
    case invalidAminoAcid(mutation: String, letter: Character)
    /// The position is 0, beyond the wild type's last residue, or not a number that fits.
    case positionOutOfRange(mutation: String, position: String, length: Int)
    /// The mutation's wild-type letter differs from the wild type at that position.
    case wildTypeMismatch(mutation: String, position: Int, expected: Character, actual: Character)
    /// One variant changes the same position twice.
    case duplicatePosition(variant: String, position: Int)
    /// Two ':' in a row, or a ':' at either end of a variant.
    case emptyMutation(variant: String)
    /// Variant `index` (1-based) of a comma-separated list is empty (`A12G,,K40R`, a trailing ',').
    case emptyVariant(index: Int)
    /// No variants at all.
    case noVariants

    public var description: String {
        switch self {
        case let .malformed(m):
            return "mutation '\(m)' is not of the form A12G (wild-type letter, 1-based position, mutant letter)"
        case let .invalidAminoAcid(m, letter):
            return "mutation '\(m)': '\(letter)' is not an amino-acid letter (expected one of \(MutationParser.aminoAcids))"
        case let .positionOutOfRange(m, position, length):
            return "mutation '\(m)': position \(position) is outside the wild type (1...\(length))"
        case let .wildTypeMismatch(m, position, expected, actual):
            return "mutation '\(m)': the wild type has \(actual) at position \(position), not \(expected)"
        case let .duplicatePosition(v, position):
            return "variant '\(v)' changes position \(position) more than once"
        case let .emptyMutation(v):
            return "variant '\(v)' has an empty mutation (mutations of one variant are joined by single ':')"
        case let .emptyVariant(index):
            return "variant \(index) of the list is empty (variants are separated by ',', the mutations of one variant joined by ':')"
        case .noVariants:
            return "no variants given"
        }
    }
}

/// One amino-acid substitution at a 1-based position.
public struct Mutation: Hashable, Sendable, CustomStringConvertible {
    /// The wild-type residue (upper case).
    public let wildType: Character
    /// 1-based residue position (token index = position, because of BOS).
    public let position: Int
    /// The substituted residue (upper case).
    public let mutant: Character

    /// An unchecked mutation; `MutationParser` validates against a wild type.
    public init(wildType: Character, position: Int, mutant: Character) {
        self.wildType = wildType
        self.position = position
        self.mutant = mutant
    }

    /// `A12G`.
    public var description: String { "\(wildType)\(position)\(mutant)" }
    /// True when the mutant equals the wild type (`A12A`).
    public var isSynonymous: Bool { wildType == mutant }
}

/// One variant: one or more substitutions at distinct positions, in the order written.
public struct Variant: Hashable, Sendable, CustomStringConvertible {
    public let mutations: [Mutation]

    /// An unchecked variant; `MutationParser` validates against a wild type.
    public init(mutations: [Mutation]) { self.mutations = mutations }

    /// `A12G:K40R` (the canonical form: upper case, no spaces).
    public var description: String { mutations.map(\.description).joined(separator: ":") }

    /// The mutant sequence: `wildType` with the substitutions applied.
    public func applied(to wildType: String) -> String {
        var chars = Array(wildType)
        for m in mutations where m.position >= 1 && m.position <= chars.count { chars[m.position - 1] = m.mutant }
        return String(chars)
    }
}

/// Parses and validates mutations against one wild type.
///
/// Letters may be written in either case (they are upper-cased); spaces
/// around variants and mutations are ignored. Checks, in order: the form
/// (letter, digits, letter), the letters (the 20 amino acids and the ESM
/// alphabet's X, B, U, Z, O), the position (1...length), the wild-type letter
/// (must equal the wild type's residue there), distinct positions within a
/// variant. A synonymous substitution (`A12A`) is allowed and scores 0 under
/// the marginal methods.
public struct MutationParser: Sendable {
    /// Letters accepted as wild-type and mutant residues.
    public static let aminoAcids = "ACDEFGHIKLMNPQRSTVWYXBUZO"
    private static let valid: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for b in aminoAcids.utf8 { t[Int(b)] = true }
        return t
    }()

    /// The wild type, upper-cased ASCII bytes (non-ASCII characters kept as 0, which matches no letter).
    public let wildType: [UInt8]

    public init(wildType: String) {
        self.wildType = wildType.unicodeScalars.map { s -> UInt8 in
            guard s.isASCII else { return 0 }
            let b = UInt8(s.value)
            return b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") ? b - 32 : b
        }
    }

    /// Parses one substitution such as `A12G`.
    public func parseMutation<S: StringProtocol>(_ text: S) throws -> Mutation {
        let shown = String(text)
        let t = Array(text.scoringTrimmed().utf8)
        guard t.count >= 3 else { throw MutationError.malformed(mutation: shown) }
        let digits = t[1..<(t.count - 1)]
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard !isDigit(t[0]), !isDigit(t[t.count - 1]), digits.allSatisfy(isDigit) else {
            throw MutationError.malformed(mutation: shown)
        }
        func upper(_ b: UInt8) -> UInt8 { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") ? b - 32 : b }
        let w = upper(t[0]), m = upper(t[t.count - 1])
        // (A multi-byte first or last character fails the digit check above: malformed.)
        for b in [w, m] where b >= 128 || !Self.valid[Int(b)] {
            throw MutationError.invalidAminoAcid(mutation: shown, letter: Character(Unicode.Scalar(b)))
        }
        let digitText = String(decoding: digits, as: UTF8.self)
        guard let pos = Int(digitText), pos >= 1, pos <= wildType.count else {
            throw MutationError.positionOutOfRange(mutation: shown, position: digitText, length: wildType.count)
        }
        let actual = wildType[pos - 1]
        guard actual == w else {
            let a: Character = actual == 0 || actual >= 128 ? "?" : Character(Unicode.Scalar(actual))
            throw MutationError.wildTypeMismatch(mutation: shown, position: pos, expected: Character(Unicode.Scalar(w)), actual: a)
        }
        return Mutation(wildType: Character(Unicode.Scalar(w)), position: pos, mutant: Character(Unicode.Scalar(m)))
    }

    /// Parses one variant: mutations joined by ':' (`A12G:K40R`).
    public func parseVariant<S: StringProtocol>(_ text: S) throws -> Variant {
        let trimmed = text.scoringTrimmed()
        guard !trimmed.isEmpty else { throw MutationError.emptyVariant(index: 1) }
        var out: [Mutation] = []
        var seen = Set<Int>()
        for part in trimmed.split(separator: ":", omittingEmptySubsequences: false) {
            guard !part.scoringTrimmed().isEmpty else { throw MutationError.emptyMutation(variant: String(trimmed)) }
            let m = try parseMutation(part)
            guard seen.insert(m.position).inserted else {
                throw MutationError.duplicatePosition(variant: String(trimmed), position: m.position)
            }
            out.append(m)
        }
        return Variant(mutations: out)
    }

    /// Parses a comma-separated list of variants (`A12G,K40R:L41P`).
    public func parseList<S: StringProtocol>(_ text: S) throws -> [Variant] {
        guard !text.scoringTrimmed().isEmpty else { throw MutationError.noVariants }
        return try text.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { i, part in
            guard !part.scoringTrimmed().isEmpty else { throw MutationError.emptyVariant(index: i + 1) }
            return try parseVariant(part)
        }
    }

    /// Checks an already built variant against the wild type (the same checks as parsing).
    public func validate(_ variant: Variant) throws {
        guard !variant.mutations.isEmpty else { throw MutationError.emptyVariant(index: 1) }
        var seen = Set<Int>()
        for m in variant.mutations {
            let parsed = try parseMutation(m.description)
            guard parsed == m else { throw MutationError.malformed(mutation: m.description) }
            guard seen.insert(m.position).inserted else {
                throw MutationError.duplicatePosition(variant: variant.description, position: m.position)
            }
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    func scoringTrimmed() -> SubSequence {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        var s = self[...]
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        return s
    }
}

/// A token vocabulary: single-character residue tokens plus `<...>` special tokens.
public struct Alphabet: Sendable, Equatable {
    /// Tokens in id order.
    public let tokens: [String]
    /// Id of `<cls>` (begin of sequence).
    public let clsIndex: Int32
    /// Id of `<pad>`.
    public let padIndex: Int32
    /// Id of `<eos>` (end of sequence / chain).
    public let eosIndex: Int32
    /// Id of `<unk>`.
    public let unkIndex: Int32
    /// Id of `<mask>`.
    public let maskIndex: Int32
    /// Residue byte (ASCII, upper case) -> id, -1 when not a single-character token.
    let byteToId: [Int32]

    /// Builds an alphabet; the five special tokens must be present.
    public init(tokens: [String]) {
        self.tokens = tokens
        func id(_ t: String) -> Int32 {
            guard let i = tokens.firstIndex(of: t) else { preconditionFailure("alphabet lacks \(t)") }
            return Int32(i)
        }
        clsIndex = id("<cls>"); padIndex = id("<pad>"); eosIndex = id("<eos>")
        unkIndex = id("<unk>"); maskIndex = id("<mask>")
        var table = [Int32](repeating: -1, count: 256)
        for (i, t) in tokens.enumerated() {
            let u = Array(t.utf8)
            if u.count == 1 { table[Int(u[0])] = Int32(i) }
        }
        byteToId = table
    }

    /// ESM-1b / ESM-2's 33 tokens, in fair-esm's order (`<cls>`=0, `<pad>`=1,
    /// `<eos>`=2, `<unk>`=3, residues 4...30, `<null_1>`=31, `<mask>`=32).
    public static let esm = Alphabet(tokens: [
        "<cls>", "<pad>", "<eos>", "<unk>",
        "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y",
        "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-",
        "<null_1>", "<mask>",
    ])

    /// Number of tokens (the model's vocabulary size).
    public var count: Int { tokens.count }

    /// The id of a token string (`"A"`, `"<mask>"`), or nil.
    public func index(of token: String) -> Int32? {
        tokens.firstIndex(of: token).map { Int32($0) }
    }

    /// The id of a residue character (upper case only), or nil.
    public func index(ofResidue byte: UInt8) -> Int32? {
        let id = byteToId[Int(byte)]
        return id >= 0 ? id : nil
    }

    /// The token string of an id, or nil when out of range.
    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
}

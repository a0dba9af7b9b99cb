import PLMTensor

/// Why a sequence could not be encoded; every case names the record id.
/// Positions are 1-based character positions in the sequence string as given
/// (chain separators included).
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A character that is neither a residue token, a chain separator nor `<`.
    case invalidCharacter(id: String, position: Int, character: Character)
    /// `<...>` names no special token of the alphabet.
    case unknownSpecialToken(id: String, position: Int, token: String)
    /// A `<` without a closing `>`.
    case unterminatedSpecialToken(id: String, position: Int)
    /// The sequence has no residues at all.
    case emptySequence(id: String)
    /// A chain separator at the start or end, or two in a row.
    case emptyChain(id: String, position: Int)
    /// More tokens than a batch's fixed length allows (BOS/EOS included).
    case tooLong(id: String, tokens: Int, limit: Int)

    public var description: String {
        switch self {
        case let .invalidCharacter(id, position, character):
            let shown = character.isWhitespace || character.unicodeScalars.contains { $0.value < 0x20 }
                ? character.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
                : "'\(character)'"
            return "sequence '\(id)': invalid character \(shown) at position \(position)"
        case let .unknownSpecialToken(id, position, token):
            return "sequence '\(id)': unknown special token \(token) at position \(position)"
        case let .unterminatedSpecialToken(id, position):
            return "sequence '\(id)': '<' at position \(position) is not closed by '>'"
        case let .emptySequence(id):
            return "sequence '\(id)': empty sequence"
        case let .emptyChain(id, position):
            return "sequence '\(id)': empty chain at the separator at position \(position)"
        case let .tooLong(id, tokens, limit):
            return "sequence '\(id)': \(tokens) tokens exceed the batch length \(limit)"
        }
    }
}

/// A batch of encoded sequences, right-padded to a common length T.
public struct TokenBatch: Equatable, Sendable {
    /// Token ids [B, T].
    public let tokens: IndexTensor
    /// [B, T], true at `<pad>` positions (the attention key padding mask convention).
    public let padMask: MaskTensor
    /// Tokens per row before padding, BOS/EOS included [B].
    public let lengths: [Int]
    /// The record ids, in row order [B].
    public let ids: [String]

    /// Batch size B.
    public var batchSize: Int { tokens.shape[0] }
    /// Padded length T.
    public var length: Int { tokens.shape[1] }
}

/// Turns protein sequences into ESM token ids.
///
/// Encoding of one record: `<cls> residues <eos>`. Conventions:
/// - Residue letters may be upper or lower case (lower case maps to upper).
/// - Special tokens can be written inline in angle brackets, e.g. `MK<mask>V`.
/// - Multi-chain records separate chains with `:` or `/` (the SeqDance and
///   ColabFold convention); each separator becomes `<eos><cls>`, so `AB:CD`
///   encodes as `<cls> A B <eos> <cls> C D <eos>`. Empty chains are errors.
/// - Anything else (digits, `*`, `J`, whitespace, ...) is an error naming the
///   record id, the 1-based character position and the character.
public struct Tokenizer: Sendable {
    /// The vocabulary (ESM's 33 tokens by default).
    public let alphabet: Alphabet
    /// Characters that separate chains (ASCII).
    public let chainSeparators: Set<UInt8>

    /// A tokenizer over `alphabet`; each ASCII character of `chainSeparators` splits chains.
    public init(alphabet: Alphabet = .esm, chainSeparators: String = ":/") {
        self.alphabet = alphabet
        self.chainSeparators = Set(chainSeparators.utf8)
    }

    /// Token ids `<cls> residues <eos>` (chains joined by `<eos><cls>`) [L + 2 + 2*(chains-1)].
    public func encode(_ sequence: String, id: String = "sequence") throws -> [Int32] {
        var out: [Int32] = [alphabet.clsIndex]
        out.reserveCapacity(sequence.utf8.count + 2)
        var position = 0
        var chainTokens = 0
        var pendingSpecial: (start: Int, text: String)? = nil
        for scalar in sequence.unicodeScalars {
            position += 1
            if var special = pendingSpecial {
                special.text.unicodeScalars.append(scalar)
                if scalar == ">" {
                    guard let tid = alphabet.index(of: special.text) else {
                        throw TokenizerError.unknownSpecialToken(id: id, position: special.start, token: special.text)
                    }
                    out.append(tid)
                    chainTokens += 1
                    pendingSpecial = nil
                } else {
                    pendingSpecial = special
                }
                continue
            }
            guard scalar.isASCII else {
                throw TokenizerError.invalidCharacter(id: id, position: position, character: Character(scalar))
            }
            var byte = UInt8(scalar.value)
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { byte -= 32 }
            if let tid = alphabet.index(ofResidue: byte) {
                out.append(tid)
                chainTokens += 1
            } else if chainSeparators.contains(byte) {
                guard chainTokens > 0 else { throw TokenizerError.emptyChain(id: id, position: position) }
                out.append(alphabet.eosIndex)
                out.append(alphabet.clsIndex)
                chainTokens = 0
            } else if byte == UInt8(ascii: "<") {
                pendingSpecial = (position, "<")
            } else {
                throw TokenizerError.invalidCharacter(id: id, position: position, character: Character(scalar))
            }
        }
        if let special = pendingSpecial {
            throw TokenizerError.unterminatedSpecialToken(id: id, position: special.start)
        }
        if position == 0 { throw TokenizerError.emptySequence(id: id) }
        if chainTokens == 0 { throw TokenizerError.emptyChain(id: id, position: position) }
        out.append(alphabet.eosIndex)
        return out
    }

    /// Encodes a FASTA record (errors name its id).
    public func encode(_ record: FASTARecord) throws -> [Int32] {
        try encode(record.sequence, id: record.id)
    }

    /// Encodes several sequences into one right-padded batch.
    ///
    /// T is the longest encoding, or `length` when given (longer sequences
    /// then throw `tooLong`), rounded up to a multiple of `padToMultipleOf`.
    /// Returns tokens [B, T] and a pad mask [B, T] (true at `<pad>`).
    public func encodeBatch(_ items: [(id: String, sequence: String)], length: Int? = nil,
                            padToMultipleOf multiple: Int = 1) throws -> TokenBatch {
        precondition(multiple >= 1, "padToMultipleOf must be >= 1, got \(multiple)")
        let rows = try items.map { try encode($0.sequence, id: $0.id) }
        var t = length ?? (rows.map(\.count).max() ?? 0)
        if let length {
            for (i, r) in rows.enumerated() where r.count > length {
                throw TokenizerError.tooLong(id: items[i].id, tokens: r.count, limit: length)
            }
        }
        t = (t + multiple - 1) / multiple * multiple
        var ids = [Int32](repeating: alphabet.padIndex, count: rows.count * t)
        var mask = [Bool](repeating: true, count: rows.count * t)
        for (b, r) in rows.enumerated() {
            for (j, v) in r.enumerated() {
                ids[b * t + j] = v
                mask[b * t + j] = false
            }
        }
        return TokenBatch(tokens: IndexTensor(shape: [rows.count, t], values: ids),
                          padMask: MaskTensor(shape: [rows.count, t], values: mask),
                          lengths: rows.map(\.count), ids: items.map(\.id))
    }

    /// Encodes FASTA records into one right-padded batch (see `encodeBatch(_:length:padToMultipleOf:)`).
    public func encodeBatch(_ records: [FASTARecord], length: Int? = nil, padToMultipleOf multiple: Int = 1) throws -> TokenBatch {
        try encodeBatch(records.map { (id: $0.id, sequence: $0.sequence) }, length: length, padToMultipleOf: multiple)
    }

    /// The tokens of ids joined into a string (residues as letters, specials as `<...>`);
    /// unknown ids show as `<?N>`.
    public func decode(_ ids: [Int32]) -> String {
        ids.map { alphabet.token($0) ?? "<?\($0)>" }.joined()
    }
}

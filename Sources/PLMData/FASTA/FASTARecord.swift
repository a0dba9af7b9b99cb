/// One FASTA record.
public struct FASTARecord: Equatable, Sendable {
    /// The header's first whitespace-delimited word (after `>`).
    public var id: String
    /// The rest of the header line, trimmed (may be empty).
    public var description: String
    /// The residues: sequence lines concatenated, whitespace removed, a
    /// terminal `*` stripped; case kept. Chain separators (`:`/`/`) stay in.
    public var sequence: String
    /// 1-based line number of the header in its file (0 when not read from a file).
    public var line: Int

    /// A record; `line` is 0 for records not read from a file.
    public init(id: String, description: String = "", sequence: String, line: Int = 0) {
        self.id = id
        self.description = description
        self.sequence = sequence
        self.line = line
    }

    /// The header text without `>`: id, then the description if any.
    public var header: String { description.isEmpty ? id : id + " " + description }
}

/// A problem in a FASTA file; every case names the file and the 1-based line.
public enum FASTAError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be opened or read.
    case cannotRead(file: String, reason: String)
    /// Sequence text appears before the first `>` header.
    case sequenceBeforeHeader(file: String, line: Int)
    /// A header with no id (`>` alone or `> text`).
    case emptyID(file: String, line: Int)
    /// A header followed by no residues.
    case emptyRecord(file: String, line: Int, id: String)
    /// An id seen before (`firstLine` is where), when duplicates are not allowed.
    case duplicateID(file: String, line: Int, id: String, firstLine: Int)
    /// A character that is not a residue (only with `validateResidues`); `column` is 1-based.
    case invalidCharacter(file: String, line: Int, column: Int, character: Character, id: String)
    /// Writing failed.
    case cannotWrite(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "\(file): cannot read FASTA: \(reason)"
        case let .sequenceBeforeHeader(file, line):
            return "\(file):\(line): sequence data before the first '>' header"
        case let .emptyID(file, line):
            return "\(file):\(line): header has no id"
        case let .emptyRecord(file, line, id):
            return "\(file):\(line): record '\(id)' has no sequence"
        case let .duplicateID(file, line, id, firstLine):
            return "\(file):\(line): duplicate id '\(id)' (first seen on line \(firstLine))"
        case let .invalidCharacter(file, line, column, character, id):
            let shown = character.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
                ? "'\(character)'"
                : character.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
            return "\(file):\(line):\(column): invalid character \(shown) in record '\(id)'"
        case let .cannotWrite(file, reason):
            return "\(file): cannot write FASTA: \(reason)"
        }
    }
}

import Foundation

/// Writing FASTA files.
public enum FASTAWriter {
    /// FASTA text: `>id description`, then the sequence wrapped at `lineWidth`
    /// characters (0 = one line per sequence).
    public static func format(_ records: [FASTARecord], lineWidth: Int = 60) -> String {
        precondition(lineWidth >= 0, "lineWidth must be >= 0, got \(lineWidth)")
        var out = ""
        for r in records {
            out += ">" + r.header + "\n"
            if lineWidth == 0 {
                out += r.sequence + "\n"
                continue
            }
            var i = r.sequence.startIndex
            while i < r.sequence.endIndex {
                let j = r.sequence.index(i, offsetBy: lineWidth, limitedBy: r.sequence.endIndex) ?? r.sequence.endIndex
                out += r.sequence[i..<j] + "\n"
                i = j
            }
        }
        return out
    }

    /// Writes records to a file atomically (temp file + rename).
    public static func write(_ records: [FASTARecord], to url: URL, lineWidth: Int = 60) throws {
        for r in records where r.id.isEmpty || r.id.contains(where: \.isWhitespace) || r.header.contains(where: \.isNewline) {
            throw FASTAError.cannotWrite(file: url.path, reason: "record id '\(r.id)' must be one non-empty word on one line")
        }
        do {
            try Data(format(records, lineWidth: lineWidth).utf8).write(to: url, options: .atomic)
        } catch {
            throw FASTAError.cannotWrite(file: url.path, reason: "\(error.localizedDescription)")
        }
    }
}

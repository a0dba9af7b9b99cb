import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A malformed CSV file; every case names the file and the 1-based line.
public enum ScoringCSVError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case empty(file: String)
    case unterminatedQuote(file: String, line: Int)
    case characterAfterQuote(file: String, line: Int, character: Character)
    case fieldCount(file: String, line: Int, expected: Int, got: Int)
    case missingColumn(file: String, wanted: [String], header: [String])
    /// A row-level error (e.g. a bad mutation) at a line of the file.
    case row(file: String, line: Int, reason: String)
    case unwritable(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .empty(file): return "\(file): empty file (a header row is required)"
        case let .unterminatedQuote(file, line): return "\(file):\(line): quoted field is not closed"
        case let .characterAfterQuote(file, line, c): return "\(file):\(line): unexpected '\(c)' after a closing quote"
        case let .fieldCount(file, line, expected, got): return "\(file):\(line): \(got) fields, the header has \(expected)"
        case let .missingColumn(file, wanted, header):
            return "\(file): no column named \(wanted.map { "'\($0)'" }.joined(separator: " or ")) in the header (\(header.joined(separator: ",")))"
        case let .row(file, line, reason): return "\(file):\(line): \(reason)"
        case let .unwritable(file, reason): return "\(file): cannot write: \(reason)"
        }
    }
}

/// The comma-separated files `plm score` reads and writes (RFC 4180).
public enum ScoringCSV {
    /// A parsed file: the header and the data rows with their 1-based start lines.
    public struct Table: Equatable, Sendable {
        public var header: [String]
        public var rows: [[String]]
        /// The line each row starts on (for error messages).
        public var lines: [Int]

        public init(header: [String], rows: [[String]], lines: [Int] = []) {
            self.header = header
            self.rows = rows
            self.lines = lines.isEmpty ? Array(2..<(2 + rows.count)) : lines
        }

        /// Index of the first column named one of `names` (exact match), or nil.
        public func column(_ names: [String]) -> Int? {
            for n in names { if let i = header.firstIndex(of: n) { return i } }
            return nil
        }
    }

    /// Parses CSV text: fields separated by ',', optionally quoted with '"'
    /// (a doubled '""' inside quotes is one quote; quoted fields may hold ','
    /// and line breaks). LF and CRLF line ends, a UTF-8 BOM and blank lines are
    /// accepted. The first record is the header; every row must have as many
    /// fields as the header.
    public static func parse(_ text: String, file: String = "<csv>") throws -> Table {
        var records: [(fields: [String], line: Int)] = []
        var field: [UInt8] = []
        var fields: [String] = []
        var line = 1, recordLine = 1
        var inQuotes = false, afterQuote = false, fieldStarted = false
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterQuote = false
            fieldStarted = false
        }
        func endRecord() {
            endField()
            // A blank line is one empty unquoted field: skip it.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((fields, recordLine)) }
            fields.removeAll()
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b); i += 1
                    } else {
                        inQuotes = false; afterQuote = true
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: ",") {
                endField()
            } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else if afterQuote {
                throw ScoringCSVError.characterAfterQuote(file: file, line: line, character: Character(Unicode.Scalar(b)))
            } else if b == UInt8(ascii: "\"") && !fieldStarted && field.isEmpty {
                inQuotes = true; fieldStarted = true
            } else {
                field.append(b); fieldStarted = true
            }
            i += 1
        }
        if inQuotes { throw ScoringCSVError.unterminatedQuote(file: file, line: recordLine) }
        if !field.isEmpty || !fields.isEmpty || afterQuote { endRecord() }
        guard let head = records.first else { throw ScoringCSVError.empty(file: file) }
        let header = head.fields
        for r in records.dropFirst() where r.fields.count != header.count {
            throw ScoringCSVError.fieldCount(file: file, line: r.line, expected: header.count, got: r.fields.count)
        }
        return Table(header: header, rows: records.dropFirst().map(\.fields), lines: records.dropFirst().map(\.line))
    }

    /// Reads and parses a CSV file (UTF-8).
    public static func read(_ url: URL) throws -> Table {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ScoringCSVError.unreadable(file: url.path, reason: FileManager.default.fileExists(atPath: url.path) ? "\(error.localizedDescription)" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScoringCSVError.unreadable(file: url.path, reason: "not UTF-8 text")
        }
        return try parse(text, file: url.path)
    }

    /// One field, quoted when it holds ',', '"', CR or LF (quotes doubled).
    public static func escape(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// CSV text: the header, then the rows; '\n' line ends, trailing newline.
    public static func format(header: [String], rows: [[String]]) -> String {
        var out = header.map(escape).joined(separator: ",") + "\n"
        for r in rows { out += r.map(escape).joined(separator: ",") + "\n" }
        return out
    }

    /// A score as text: fixed-point with 6 decimals (scores are sums of
    /// float32 log-probabilities, good to about 1e-6).
    public static func formatScore(_ x: Double) -> String {
        x.isFinite ? String(format: "%.6f", x) : (x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf"))
    }

    /// Writes `text` to `url` atomically: into a temporary file in the same
    /// directory, then `rename(2)` over the destination, so readers never see a
    /// partial file and a failed run leaves any old file untouched.
    public static func writeAtomically(_ text: String, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ScoringCSVError.unwritable(file: url.path, reason: "directory \(dir.path) does not exist")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try Data(text.utf8).write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw ScoringCSVError.unwritable(file: url.path, reason: "\(error.localizedDescription)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw ScoringCSVError.unwritable(file: url.path, reason: reason)
        }
    }
}

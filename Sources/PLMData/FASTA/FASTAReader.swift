import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `read(2)`, named apart from `FASTAReader.read(url:options:)`.
private func posixRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, p, n)
    #else
    return Darwin.read(fd, p, n)
    #endif
}

/// Streaming FASTA reader: one record at a time, reading the file in chunks.
///
/// Accepts multi-line records, blank lines, `;` comment lines, Windows (CRLF)
/// line endings, a UTF-8 byte-order mark, whitespace inside sequence lines
/// (removed) and a terminal `*` stop codon (stripped; a `*` followed by more
/// residues is an error). Errors name the file and 1-based line (and byte
/// column for characters). Residue characters are checked only with `validateResidues`;
/// otherwise the tokenizer checks them when encoding.
public final class FASTAReader: Sequence, IteratorProtocol {
    /// Reading options.
    public struct Options: Sendable {
        /// Reject a record whose id was seen before (default true).
        public var rejectDuplicateIDs: Bool
        /// Check every residue against the ESM alphabet (letters of either
        /// case, `.`, `-`) and chain separators `:` `/`, reporting line and column.
        public var validateResidues: Bool

        /// Options; the defaults reject duplicate ids and leave residue checks to the tokenizer.
        public init(rejectDuplicateIDs: Bool = true, validateResidues: Bool = false) {
            self.rejectDuplicateIDs = rejectDuplicateIDs
            self.validateResidues = validateResidues
        }
    }

    /// The name used in errors (the path for files).
    public let name: String
    /// The options in effect.
    public let options: Options
    /// The error that ended iteration through `Sequence` (`next()` cannot throw there).
    public private(set) var error: Error?

    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var start = 0                  // first unconsumed byte in `buffer`
    private var eof = false
    private var scratch: UnsafeMutableRawPointer? = nil   // read(2) target, chunkSize bytes
    private var bomChecked = false
    private var lineNumber = 0
    private var pendingHeader: (id: String, description: String, line: Int)? = nil
    private var seen: [String: Int] = [:]
    private let chunkSize: Int
    private let validResidue: [Bool]

    /// Opens a file for streaming.
    public convenience init(url: URL, options: Options = Options()) throws {
        try self.init(url: url, options: options, chunkSize: 1 << 20)
    }

    /// Opens a file, reading `chunkSize` bytes at a time (small sizes test chunk boundaries).
    init(url: URL, options: Options, chunkSize: Int) throws {
        precondition(chunkSize > 0)
        self.chunkSize = chunkSize
        name = url.path
        self.options = options
        validResidue = Self.residueTable()
        fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FASTAError.cannotRead(file: name, reason: String(cString: strerror(errno))) }
    }

    /// Reads FASTA text held in memory; `name` is used in errors.
    public init(string: String, name: String = "<string>", options: Options = Options()) {
        self.name = name
        self.options = options
        chunkSize = 1 << 20
        validResidue = Self.residueTable()
        buffer = Array(string.utf8)
        eof = true
    }

    deinit {
        if fd >= 0 { close(fd) }
        scratch?.deallocate()
    }

    /// Every record of a file.
    public static func read(url: URL, options: Options = Options()) throws -> [FASTARecord] {
        try FASTAReader(url: url, options: options).readAll()
    }

    /// Every record of FASTA text.
    public static func parse(_ text: String, name: String = "<string>", options: Options = Options()) throws -> [FASTARecord] {
        try FASTAReader(string: text, name: name, options: options).readAll()
    }

    /// The remaining records.
    public func readAll() throws -> [FASTARecord] {
        var out: [FASTARecord] = []
        while let r = try nextRecord() { out.append(r) }
        return out
    }

    /// `Sequence` conformance: nil at the end or on an error (then see `error`).
    /// Prefer `nextRecord()`, which throws.
    public func next() -> FASTARecord? {
        guard error == nil else { return nil }
        do { return try nextRecord() } catch { self.error = error; return nil }
    }

    private static func residueTable() -> [Bool] {
        var t = [Bool](repeating: false, count: 256)
        for tok in Alphabet.esm.tokens where tok.utf8.count == 1 {
            let b = tok.utf8.first!
            t[Int(b)] = true
            if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { t[Int(b) + 32] = true }
        }
        t[Int(UInt8(ascii: ":"))] = true
        t[Int(UInt8(ascii: "/"))] = true
        return t
    }

    /// The next line without its terminator (`\n`, `\r\n`), or nil at the end.
    private func nextLine() throws -> ArraySlice<UInt8>? {
        if !bomChecked {
            while buffer.count < 3 && !eof { try fill() }
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }  // UTF-8 byte-order mark
            bomChecked = true
        }
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                var end = nl
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<end]
                start = nl + 1
                lineNumber += 1
                return line
            }
            if eof {
                guard start < buffer.count else { return nil }
                var end = buffer.count
                if buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<end]
                start = buffer.count
                lineNumber += 1
                return line
            }
            try fill()
        }
    }

    /// Appends the next chunk of the file to `buffer` (dropping consumed bytes first).
    private func fill() throws {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        guard fd >= 0 else { eof = true; return }
        if scratch == nil { scratch = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16) }
        var got: Int
        repeat { got = posixRead(fd, scratch!, chunkSize) } while got < 0 && errno == EINTR
        guard got >= 0 else { throw FASTAError.cannotRead(file: name, reason: String(cString: strerror(errno))) }
        if got == 0 { eof = true } else { buffer.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: got)) }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0B || b == 0x0C || b == 0x0D }

    private func parseHeader(_ line: ArraySlice<UInt8>) throws -> (id: String, description: String, line: Int) {
        var i = line.startIndex + 1  // after '>'
        let end = line.endIndex
        let idStart = i
        while i < end && !Self.isSpace(line[i]) { i += 1 }
        let id = String(decoding: line[idStart..<i], as: UTF8.self)
        guard !id.isEmpty else { throw FASTAError.emptyID(file: name, line: lineNumber) }
        while i < end && Self.isSpace(line[i]) { i += 1 }
        var dEnd = end
        while dEnd > i && Self.isSpace(line[dEnd - 1]) { dEnd -= 1 }
        let description = String(decoding: line[i..<dEnd], as: UTF8.self)
        if options.rejectDuplicateIDs {
            if let first = seen[id] {
                throw FASTAError.duplicateID(file: name, line: lineNumber, id: id, firstLine: first)
            }
            seen[id] = lineNumber
        }
        return (id, description, lineNumber)
    }

    /// The next record, or nil at the end of the input.
    public func nextRecord() throws -> FASTARecord? {
        // Find the header (first call: skip blank and comment lines).
        while pendingHeader == nil {
            guard let line = try nextLine() else { return nil }
            guard let first = line.first(where: { !Self.isSpace($0) }) else { continue }
            if line.first == UInt8(ascii: ">") { pendingHeader = try parseHeader(line); break }
            if first == UInt8(ascii: ";") { continue }
            throw FASTAError.sequenceBeforeHeader(file: name, line: lineNumber)
        }
        let header = pendingHeader!
        pendingHeader = nil
        var residues: [UInt8] = []
        var stop: (line: Int, column: Int)? = nil   // a '*' seen; must be the last residue
        while let line = try nextLine() {
            if line.first == UInt8(ascii: ">") {
                pendingHeader = try parseHeader(line)
                break
            }
            if line.first == UInt8(ascii: ";") { continue }
            for (k, b) in line.enumerated() where !Self.isSpace(b) {
                if let s = stop {
                    // Residues after a '*': the '*' was not terminal.
                    throw FASTAError.invalidCharacter(file: name, line: s.line, column: s.column, character: "*", id: header.id)
                }
                if b == UInt8(ascii: "*") { stop = (lineNumber, k + 1); continue }
                if options.validateResidues && !validResidue[Int(b)] {
                    throw FASTAError.invalidCharacter(file: name, line: lineNumber, column: k + 1,
                                                      character: character(in: line, at: k), id: header.id)
                }
                residues.append(b)
            }
        }
        if residues.isEmpty { throw FASTAError.emptyRecord(file: name, line: header.line, id: header.id) }
        return FASTARecord(id: header.id, description: header.description,
                           sequence: String(decoding: residues, as: UTF8.self), line: header.line)
    }

    /// The (possibly multi-byte) character starting at byte `k` of a line.
    private func character(in line: ArraySlice<UInt8>, at k: Int) -> Character {
        let rest = line.dropFirst(k)
        return String(decoding: rest.prefix(4), as: UTF8.self).first ?? "?"
    }
}

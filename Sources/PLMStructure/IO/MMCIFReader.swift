import Foundation

/// Reads the coordinate part of PDBx/mmCIF files into a `Structure`.
///
/// Uses the `_atom_site` loop (all models via `pdbx_PDB_model_num`), `_cell`,
/// `_symmetry`/`_space_group` and `_pdbx_poly_seq_scheme` (deposited sequence).
/// The tokenizer follows CIF 1.1: `#` comments, `'`/`"` quoted values (a quote
/// ends only when followed by whitespace), `;` text fields at line start, and
/// unquoted `.` (inapplicable) / `?` (unknown). Only the first data block is read.
/// `options.identifiers` picks `auth_*` (default, as in PDB files) or `label_*`
/// chain/residue/atom identifiers; with `.label`, non-polymer atoms whose
/// `label_seq_id` is `.` take their number from `auth_seq_id`.
public enum MMCIFReader {
    /// Reads an mmCIF file from disk.
    public static func read(contentsOf url: URL, options: StructureReadOptions = .init()) throws -> Structure {
        let data = try readFileData(url)
        return try parse(data, sourceName: url.lastPathComponent, options: options)
    }

    /// Parses mmCIF text held in memory; `sourceName` names the file in errors.
    public static func parse(_ data: Data, sourceName: String = "<memory>",
                             options: StructureReadOptions = .init()) throws -> Structure {
        try data.withUnsafeBytes { raw in
            try parse(raw.bindMemory(to: UInt8.self), sourceName: sourceName, options: options)
        }
    }

    /// Parses mmCIF text from a byte buffer; `sourceName` names the file in errors.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, sourceName: String,
                             options: StructureReadOptions = .init()) throws -> Structure {
        var parser = CIFParser(bytes: bytes, sourceName: sourceName, options: options)
        return try parser.run()
    }
}

/// One CIF token: byte range, kind and the 1-based line where it starts.
struct CIFToken {
    enum Kind { case value, quoted, text, tag, loop, data, save, global, stop }
    var start: Int
    var end: Int
    var kind: Kind
    var line: Int

    var isValue: Bool { kind == .value || kind == .quoted || kind == .text }
}

/// Splits CIF text into tokens without copying.
struct CIFTokenizer {
    let b: UnsafeBufferPointer<UInt8>
    let sourceName: String
    private(set) var pos = 0
    private(set) var line = 1
    private var lineStart = 0

    init(bytes: UnsafeBufferPointer<UInt8>, sourceName: String) {
        self.b = bytes; self.sourceName = sourceName
    }

    mutating func next() throws -> CIFToken? {
        let n = b.count
        while pos < n {
            let c = b[pos]
            if c == asciiNewline {
                pos += 1; line += 1; lineStart = pos
                continue
            }
            if isBlank(c) { pos += 1; continue }
            if c == 0x23 {  // '#': comment to end of line
                while pos < n && b[pos] != asciiNewline { pos += 1 }
                continue
            }
            if c == 0x3B && pos == lineStart {  // ';' text field
                let startLine = line
                let start = pos + 1
                var q = start
                while true {
                    guard q < n else {
                        throw StructureIOError.malformedText(file: sourceName, line: startLine,
                                                             message: "unterminated ';' text field")
                    }
                    if b[q] == asciiNewline {
                        line += 1
                        if q + 1 < n && b[q + 1] == 0x3B { break }
                    }
                    q += 1
                }
                var end = q
                if end > start && b[end - 1] == asciiReturn { end -= 1 }
                pos = q + 2
                lineStart = q + 1
                return CIFToken(start: start, end: end, kind: .text, line: startLine)
            }
            if c == 0x27 || c == 0x22 {  // quoted value
                let start = pos + 1
                var q = start
                while true {
                    guard q < n, b[q] != asciiNewline else {
                        throw StructureIOError.malformedText(file: sourceName, line: line,
                                                             message: "unterminated quoted value")
                    }
                    if b[q] == c && (q + 1 == n || isBlank(b[q + 1])) { break }
                    q += 1
                }
                pos = q + 1
                return CIFToken(start: start, end: q, kind: .quoted, line: line)
            }
            let start = pos
            while pos < n && !isBlank(b[pos]) { pos += 1 }
            return CIFToken(start: start, end: pos, kind: classify(start, pos), line: line)
        }
        return nil
    }

    private func classify(_ s: Int, _ e: Int) -> CIFToken.Kind {
        if b[s] == 0x5F { return .tag }
        func hasPrefix(_ word: StaticString) -> Bool {
            let len = word.utf8CodeUnitCount
            guard e - s >= len else { return false }
            for k in 0..<len where (b[s + k] | 0x20) != (word.utf8Start[k] | 0x20) { return false }
            return true
        }
        if e - s == 5 && hasPrefix("loop_") { return .loop }
        if hasPrefix("data_") { return .data }
        if hasPrefix("save_") { return .save }
        if e - s == 7 && hasPrefix("global_") { return .global }
        if e - s == 5 && hasPrefix("stop_") { return .stop }
        return .value
    }
}

private struct CIFParser {
    let b: UnsafeBufferPointer<UInt8>
    let sourceName: String
    let options: StructureReadOptions
    var tokenizer: CIFTokenizer
    var interner = StringInterner()
    var builders: [ModelBuilder] = []
    var builderIndex: [Int: Int] = [:]
    var cellValues: [String: Double] = [:]
    var spaceGroup: String? = nil
    var seqres: [String: [String]] = [:]
    var seqresOrder: [String] = []
    var sawAtomSite = false

    init(bytes: UnsafeBufferPointer<UInt8>, sourceName: String, options: StructureReadOptions) {
        self.b = bytes; self.sourceName = sourceName; self.options = options
        self.tokenizer = CIFTokenizer(bytes: bytes, sourceName: sourceName)
    }

    func text(_ t: CIFToken) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[t.start..<t.end]), as: UTF8.self)
    }

    func isNull(_ t: CIFToken) -> Bool {
        t.kind == .value && t.end - t.start == 1 && (b[t.start] == 0x2E || b[t.start] == 0x3F)
    }

    func malformed(_ line: Int, _ message: String) -> StructureIOError {
        .malformedText(file: sourceName, line: line, message: message)
    }

    mutating func run() throws -> Structure {
        var dataBlocks = 0
        var tok = try tokenizer.next()
        while let t = tok {
            switch t.kind {
            case .data:
                dataBlocks += 1
                if dataBlocks > 1 && sawAtomSite { tok = nil; continue }
                tok = try tokenizer.next()
            case .loop:
                tok = try loop(t)
            case .tag:
                guard let v = try tokenizer.next(), v.isValue else {
                    throw malformed(t.line, "tag \(text(t)) has no value")
                }
                singleItem(tag: text(t).lowercased(), value: v)
                tok = try tokenizer.next()
            case .value, .quoted, .text:
                throw malformed(t.line, "value '\(excerpt(b, t.start, t.end))' outside a loop and without a tag")
            case .save, .global, .stop:
                tok = try tokenizer.next()
            }
        }
        let models = builders.map { $0.build() }.filter { $0.atomCount > 0 }
        guard !models.isEmpty else {
            throw malformed(tokenizer.line, sawAtomSite ? "_atom_site loop has no atoms" : "no _atom_site loop")
        }
        var cell: UnitCell? = nil
        if let a = cellValues["length_a"], let bb = cellValues["length_b"], let c = cellValues["length_c"],
           let al = cellValues["angle_alpha"], let be = cellValues["angle_beta"], let ga = cellValues["angle_gamma"] {
            cell = UnitCell(a: a, b: bb, c: c, alpha: al, beta: be, gamma: ga)
        }
        return Structure(sourceName: sourceName, models: models, unitCell: cell, spaceGroup: spaceGroup,
                         seqres: seqres, seqresChainIDs: seqresOrder)
    }

    mutating func singleItem(tag: String, value: CIFToken) {
        if tag.hasPrefix("_cell.") {
            let key = String(tag.dropFirst(6))
            if let v = parseDouble(b, value.start, value.end) { cellValues[key] = v }
        } else if tag == "_symmetry.space_group_name_h-m" || tag == "_space_group.name_h-m_alt" {
            if !isNull(value) { spaceGroup = text(value).trimmingBlanks() }
        }
    }

    /// Reads one loop; returns the first token after it.
    mutating func loop(_ loopToken: CIFToken) throws -> CIFToken? {
        var tags: [String] = []
        var t = try tokenizer.next()
        while let tt = t, tt.kind == .tag {
            tags.append(text(tt).lowercased())
            t = try tokenizer.next()
        }
        guard !tags.isEmpty else { throw malformed(loopToken.line, "loop_ without tags") }
        let category = tags[0].split(separator: ".", maxSplits: 1).first.map(String.init) ?? tags[0]
        var atomSite: AtomSiteColumns? = nil
        var polySeq: PolySeqColumns? = nil
        if category == "_atom_site" {
            atomSite = try AtomSiteColumns(tags: tags, options: options, line: loopToken.line, file: sourceName)
            sawAtomSite = true
        } else if category == "_pdbx_poly_seq_scheme" {
            polySeq = PolySeqColumns(tags: tags, options: options)
        }
        let ncols = tags.count
        var row = [CIFToken](repeating: CIFToken(start: 0, end: 0, kind: .value, line: 0), count: ncols)
        var count = 0
        var lastLine = loopToken.line
        var lastPolySeq: (chain: String, seq: String)? = nil
        while let tt = t, tt.isValue {
            row[count % ncols] = tt
            count += 1
            lastLine = tt.line
            if count % ncols == 0 {
                if let cols = atomSite {
                    try atomRow(row, cols)
                } else if let cols = polySeq {
                    polySeqRow(row, cols, last: &lastPolySeq)
                }
            }
            t = try tokenizer.next()
        }
        if count % ncols != 0 {
            throw malformed(lastLine, "loop \(category) has \(count) values, not a multiple of its \(ncols) columns")
        }
        return t
    }

    mutating func atomRow(_ row: [CIFToken], _ c: AtomSiteColumns) throws {
        func field(_ i: Int) -> CIFToken? {
            guard i >= 0 else { return nil }
            let t = row[i]
            return isNull(t) ? nil : t
        }
        var modelNumber = 1
        if let t = field(c.model) {
            guard let m = parseInt(b, t.start, t.end) else {
                throw malformed(t.line, "pdbx_PDB_model_num '\(excerpt(b, t.start, t.end))' is not an integer")
            }
            modelNumber = m
        }
        let slot: Int
        if let s = builderIndex[modelNumber] {
            slot = s
        } else {
            if options.firstModelOnly && !builders.isEmpty { return }
            slot = builders.count
            builderIndex[modelNumber] = slot
            builders.append(ModelBuilder(number: modelNumber, policy: options.altLocs))
        }
        func coordinate(_ i: Int, _ label: String) throws -> Double {
            let t = row[i]
            guard let v = parseDouble(b, t.start, t.end) else {
                throw malformed(t.line, "\(label) value '\(excerpt(b, t.start, t.end))' is not a number")
            }
            return v
        }
        let x = try coordinate(c.x, "Cartn_x")
        let y = try coordinate(c.y, "Cartn_y")
        let z = try coordinate(c.z, "Cartn_z")
        func str(_ i: Int) -> String? {
            guard let t = field(i) else { return nil }
            return interner.string(b, t.start, t.end)
        }
        let name = str(c.atomName) ?? str(c.atomNameFallback) ?? ""
        let resName = str(c.compID) ?? str(c.compIDFallback) ?? ""
        let chain = str(c.asymID) ?? str(c.asymIDFallback) ?? ""
        var resNumber = 0
        if let t = field(c.seqID) ?? field(c.seqIDFallback) {
            guard let v = parseInt(b, t.start, t.end) else {
                throw malformed(t.line, "residue number '\(excerpt(b, t.start, t.end))' is not an integer")
            }
            resNumber = v
        }
        var hetero = false
        if let t = field(c.group) { hetero = t.end - t.start == 6 && b[t.start] == 0x48 }
        let altLoc = str(c.altID) ?? ""
        let iCode = str(c.insCode) ?? ""
        let occupancy = field(c.occupancy).flatMap { parseDouble(b, $0.start, $0.end) } ?? 1.0
        let bFactor = field(c.bIso).flatMap { parseDouble(b, $0.start, $0.end) } ?? 0.0
        let serial = field(c.id).flatMap { parseInt(b, $0.start, $0.end) } ?? -1
        var element = ""
        if let t = field(c.typeSymbol) { element = interner.upperString(b, t.start, t.end) }
        if element.isEmpty { element = ElementInference.fromName(name, residueName: resName) }
        builders[slot].add(Atom(serial: serial, name: name, element: element, residueName: resName,
                                residueNumber: resNumber, insertionCode: iCode, chainID: chain,
                                altLoc: altLoc, occupancy: occupancy, bFactor: bFactor, isHetero: hetero,
                                x: x, y: y, z: z))
    }

    mutating func polySeqRow(_ row: [CIFToken], _ c: PolySeqColumns, last: inout (chain: String, seq: String)?) {
        guard c.chain >= 0, c.monID >= 0, !isNull(row[c.chain]), !isNull(row[c.monID]) else { return }
        let chain = interner.string(b, row[c.chain].start, row[c.chain].end)
        let seq = c.seqID >= 0 ? text(row[c.seqID]) : ""
        // Microheterogeneity lists several monomers for one position: keep the first.
        if let l = last, l.chain == chain, l.seq == seq, !seq.isEmpty { return }
        last = (chain, seq)
        if seqres[chain] == nil { seqresOrder.append(chain); seqres[chain] = [] }
        seqres[chain]!.append(interner.string(b, row[c.monID].start, row[c.monID].end))
    }
}

/// Column positions of the `_atom_site` fields the reader uses (-1 when absent).
private struct AtomSiteColumns {
    var group = -1, id = -1, typeSymbol = -1, altID = -1, insCode = -1
    var x = -1, y = -1, z = -1, occupancy = -1, bIso = -1, model = -1
    var atomName = -1, atomNameFallback = -1, compID = -1, compIDFallback = -1
    var asymID = -1, asymIDFallback = -1, seqID = -1, seqIDFallback = -1

    init(tags: [String], options: StructureReadOptions, line: Int, file: String) throws {
        func col(_ name: String) -> Int { tags.firstIndex(of: "_atom_site." + name) ?? -1 }
        group = col("group_pdb"); id = col("id"); typeSymbol = col("type_symbol")
        altID = col("label_alt_id"); insCode = col("pdbx_pdb_ins_code")
        x = col("cartn_x"); y = col("cartn_y"); z = col("cartn_z")
        occupancy = col("occupancy"); bIso = col("b_iso_or_equiv"); model = col("pdbx_pdb_model_num")
        let (primary, secondary) = options.identifiers == .auth ? ("auth_", "label_") : ("label_", "auth_")
        atomName = col(primary + "atom_id"); atomNameFallback = col(secondary + "atom_id")
        compID = col(primary + "comp_id"); compIDFallback = col(secondary + "comp_id")
        asymID = col(primary + "asym_id"); asymIDFallback = col(secondary + "asym_id")
        seqID = col(primary + "seq_id"); seqIDFallback = col(secondary + "seq_id")
        var missing: [String] = []
        if x < 0 { missing.append("Cartn_x") }
        if y < 0 { missing.append("Cartn_y") }
        if z < 0 { missing.append("Cartn_z") }
        if atomName < 0 && atomNameFallback < 0 { missing.append("atom_id") }
        if compID < 0 && compIDFallback < 0 { missing.append("comp_id") }
        if !missing.isEmpty {
            throw StructureIOError.malformedText(file: file, line: line,
                                                 message: "_atom_site loop lacks \(missing.joined(separator: ", "))")
        }
    }
}

/// Column positions in `_pdbx_poly_seq_scheme`.
private struct PolySeqColumns {
    var chain = -1, monID = -1, seqID = -1
    init(tags: [String], options: StructureReadOptions) {
        func col(_ name: String) -> Int { tags.firstIndex(of: "_pdbx_poly_seq_scheme." + name) ?? -1 }
        chain = options.identifiers == .auth ? col("pdb_strand_id") : col("asym_id")
        if chain < 0 { chain = col("asym_id") }
        monID = col("mon_id")
        seqID = col("seq_id")
    }
}

import Foundation

/// Reads PDB-format files (fixed columns) into a `Structure`.
///
/// Records used: ATOM/HETATM (all models), MODEL/ENDMDL, CRYST1, SEQRES. Everything
/// else is skipped. Coordinates and the residue number are required; a line whose
/// coordinate or residue-number field is not a number throws
/// `StructureIOError.malformedText` with the 1-based line number. Missing occupancy
/// or B-factor default to 1.0 / 0.0 (as MDTraj). Serial numbers and residue
/// numbers may be hybrid-36. GROMACS-written files (blank chain, `OC1`, `H1`, MODEL
/// around one model) need nothing special.
public enum PDBReader {
    /// Reads a PDB file from disk.
    public static func read(contentsOf url: URL, options: StructureReadOptions = .init()) throws -> Structure {
        let data = try readFileData(url)
        return try parse(data, sourceName: url.lastPathComponent, options: options)
    }

    /// Parses PDB text held in memory; `sourceName` names the file in errors.
    public static func parse(_ data: Data, sourceName: String = "<memory>",
                             options: StructureReadOptions = .init()) throws -> Structure {
        try data.withUnsafeBytes { raw in
            try parse(raw.bindMemory(to: UInt8.self), sourceName: sourceName, options: options)
        }
    }

    /// Parses PDB text from a byte buffer; `sourceName` names the file in errors.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, sourceName: String,
                             options: StructureReadOptions = .init()) throws -> Structure {
        var parser = PDBParser(bytes: bytes, sourceName: sourceName, options: options)
        return try parser.run()
    }
}

private struct PDBParser {
    let b: UnsafeBufferPointer<UInt8>
    let sourceName: String
    let options: StructureReadOptions
    var interner = StringInterner()
    var models: [ModelBuilder] = []
    var current: ModelBuilder? = nil
    var cell: UnitCell? = nil
    var spaceGroup: String? = nil
    var seqres: [String: [String]] = [:]
    var seqresOrder: [String] = []
    var lineNumber = 0
    var done = false

    init(bytes: UnsafeBufferPointer<UInt8>, sourceName: String, options: StructureReadOptions) {
        self.b = bytes; self.sourceName = sourceName; self.options = options
    }

    mutating func run() throws -> Structure {
        var pos = 0
        let n = b.count
        while pos < n && !done {
            var end = pos
            while end < n && b[end] != asciiNewline { end += 1 }
            lineNumber += 1
            var lineEnd = end
            if lineEnd > pos && b[lineEnd - 1] == asciiReturn { lineEnd -= 1 }
            try handleLine(pos, lineEnd)
            pos = end + 1
        }
        finishModel()
        if models.isEmpty {
            throw StructureIOError.malformedText(file: sourceName, line: max(lineNumber, 1),
                                                 message: "no ATOM/HETATM records")
        }
        let built = models.map { $0.build() }.filter { $0.atomCount > 0 }
        if built.isEmpty {
            throw StructureIOError.malformedText(file: sourceName, line: max(lineNumber, 1),
                                                 message: "no ATOM/HETATM records")
        }
        return Structure(sourceName: sourceName, models: built, unitCell: cell, spaceGroup: spaceGroup,
                         seqres: seqres, seqresChainIDs: seqresOrder)
    }

    /// True when the line starts with the given record name. Only the name's own
    /// characters are compared (as MDTraj/ProDy do), so `ATOM` lines whose serial
    /// overflows into columns 5-6 are still atoms.
    func record(_ s: Int, _ e: Int, _ name: StaticString) -> Bool {
        let len = name.utf8CodeUnitCount
        guard e - s >= len else { return false }
        let p = name.utf8Start
        for k in 0..<len where b[s + k] != p[k] { return false }
        return true
    }

    mutating func handleLine(_ s: Int, _ e: Int) throws {
        if e - s < 3 { return }
        switch b[s] {
        case 0x41 where record(s, e, "ATOM"), 0x48 where record(s, e, "HETATM"):
            try atomRecord(s, e, hetero: b[s] == 0x48)
        case 0x4D where record(s, e, "MODEL"):
            finishModel()
            if options.firstModelOnly && !models.isEmpty { done = true; return }
            let number = parseInt(b, min(s + 10, e), min(s + 14, e)) ?? parseInt(b, min(s + 5, e), e) ?? (models.count + 1)
            current = ModelBuilder(number: number, policy: options.altLocs)
        case 0x45 where record(s, e, "ENDMDL"):
            finishModel()
            if options.firstModelOnly { done = true }
        case 0x43 where record(s, e, "CRYST1"):
            cryst1(s, e)
        case 0x53 where record(s, e, "SEQRES"):
            seqresRecord(s, e)
        default:
            return
        }
    }

    mutating func finishModel() {
        if let m = current {
            models.append(m)
            current = nil
        }
    }

    mutating func atomRecord(_ s: Int, _ e: Int, hetero: Bool) throws {
        if current == nil {
            if options.firstModelOnly && !models.isEmpty { done = true; return }
            current = ModelBuilder(number: models.count + 1, policy: options.altLocs)
        }
        let len = e - s
        guard len >= 54 else {
            throw malformed("\(hetero ? "HETATM" : "ATOM") record too short for coordinates (\(len) columns, need 54)")
        }
        @inline(__always) func col(_ a: Int, _ z: Int) -> (Int, Int) { (s + min(a, len), s + min(z, len)) }
        func coordinate(_ a: Int, _ label: String) throws -> Double {
            guard let v = parseDouble(b, s + a, s + a + 8) else {
                throw malformed("\(label) coordinate '\(excerpt(b, s + a, s + a + 8))' (columns \(a + 1)-\(a + 8)) is not a number")
            }
            return v
        }
        let x = try coordinate(30, "x")
        let y = try coordinate(38, "y")
        let z = try coordinate(46, "z")
        guard let resSeq = parseInt(b, s + 22, s + 26, hybrid36: 4) else {
            throw malformed("residue number '\(excerpt(b, s + 22, s + 26))' (columns 23-26) is not a number")
        }
        let serial = parseInt(b, s + 6, s + 11, hybrid36: 5) ?? -1
        let rawName = interner.string(b, s + 12, s + 16)
        let name = interner.trimmedString(b, s + 12, s + 16)
        let altLoc = interner.trimmedString(b, s + 16, s + 17)
        let resName = interner.trimmedString(b, s + 17, s + 21)
        let chain = interner.trimmedString(b, s + 21, s + 22)
        let iCode = interner.trimmedString(b, s + 26, s + 27)
        let (o0, o1) = col(54, 60)
        let occupancy = parseDouble(b, o0, o1) ?? 1.0
        let (b0, b1) = col(60, 66)
        let bFactor = parseDouble(b, b0, b1) ?? 0.0
        let (g0, g1) = col(72, 76)
        let segment = interner.trimmedString(b, g0, g1)
        let (e0, e1) = col(76, 78)
        var element = interner.upperString(b, e0, e1)
        if element.isEmpty || !element.utf8.allSatisfy(isLetter) {
            element = ElementInference.fromPDBName(rawName, residueName: resName, isHetero: hetero)
        }
        current!.add(Atom(serial: serial, name: name, element: element, residueName: resName,
                          residueNumber: resSeq, insertionCode: iCode, chainID: chain, altLoc: altLoc,
                          occupancy: occupancy, bFactor: bFactor, isHetero: hetero, segmentID: segment,
                          x: x, y: y, z: z))
    }

    mutating func cryst1(_ s: Int, _ e: Int) {
        let len = e - s
        guard len >= 54 else { return }
        guard let a = parseDouble(b, s + 6, s + 15), let bb = parseDouble(b, s + 15, s + 24),
              let c = parseDouble(b, s + 24, s + 33), let al = parseDouble(b, s + 33, s + 40),
              let be = parseDouble(b, s + 40, s + 47), let ga = parseDouble(b, s + 47, s + 54) else { return }
        cell = UnitCell(a: a, b: bb, c: c, alpha: al, beta: be, gamma: ga)
        if len > 55 {
            let sg = interner.trimmedString(b, s + 55, s + min(66, len))
            spaceGroup = sg.isEmpty ? nil : sg
        }
    }

    mutating func seqresRecord(_ s: Int, _ e: Int) {
        let len = e - s
        guard len > 19 else { return }
        let chain = interner.trimmedString(b, s + 11, s + 12)
        if seqres[chain] == nil { seqresOrder.append(chain); seqres[chain] = [] }
        var p = s + 19
        while p < e {
            while p < e && isBlank(b[p]) { p += 1 }
            var q = p
            while q < e && !isBlank(b[q]) { q += 1 }
            if q > p { seqres[chain]!.append(interner.string(b, p, q)) }
            p = q
        }
    }

    func malformed(_ message: String) -> StructureIOError {
        .malformedText(file: sourceName, line: lineNumber, message: message)
    }
}

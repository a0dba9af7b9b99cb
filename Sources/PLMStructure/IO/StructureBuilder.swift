// Collects atoms of one model and applies the alternate-location policy.
// Shared by the PDB and mmCIF readers.

/// Identity of one atom across its alternate locations.
struct AltLocKey: Hashable {
    var chainID: String
    var residueNumber: Int
    var insertionCode: String
    var residueName: String
    var name: String
}

struct ModelBuilder {
    let number: Int
    let policy: StructureReadOptions.AltLocPolicy
    private(set) var atoms: [Atom] = []
    /// For atoms seen with a non-blank altloc: where the kept conformer sits and its occupancy.
    private var altLocSlots: [AltLocKey: Int] = [:]

    init(number: Int, policy: StructureReadOptions.AltLocPolicy) {
        self.number = number
        self.policy = policy
    }

    /// Adds one atom record. Conformers of an atom already seen replace it only when
    /// their occupancy is strictly higher (policy `.highestOccupancy`), so ties keep the
    /// first; the kept atom stays at the position of the first conformer.
    mutating func add(_ atom: Atom) {
        if atom.altLoc.isEmpty || policy == .all {
            atoms.append(atom)
            return
        }
        let key = AltLocKey(chainID: atom.chainID, residueNumber: atom.residueNumber,
                            insertionCode: atom.insertionCode, residueName: atom.residueName,
                            name: atom.name)
        if let slot = altLocSlots[key] {
            if policy == .highestOccupancy && atom.occupancy > atoms[slot].occupancy {
                atoms[slot] = atom
            }
        } else {
            altLocSlots[key] = atoms.count
            atoms.append(atom)
        }
    }

    func build() -> StructureModel { StructureModel(number: number, atoms: atoms) }
}

/// Element inference from an atom name when the file gives none.
enum ElementInference {
    /// Two-letter element symbols that appear as ions/metals in biomolecular files.
    static let twoLetter: Set<String> = [
        "FE", "ZN", "MG", "MN", "CL", "NA", "CA", "CU", "CO", "NI", "BR", "SE", "CD", "HG",
        "LI", "AL", "SI", "AS", "SR", "MO", "AG", "SN", "CS", "BA", "PT", "AU", "PB", "RB",
        "GA", "GD", "YB", "TB", "SM", "EU", "IR", "OS", "RU", "RH", "PD", "XE", "KR", "AR",
        "NE", "HE", "BE", "CR", "TI", "SB", "TL", "BI", "LA", "CE", "PR", "ND", "ER", "LU", "HO",
    ]

    /// Infers the element from the 4-column PDB atom-name field and the residue name.
    ///
    /// PDB convention: the element symbol is right-justified in columns 13-14, so a
    /// name starting in column 14 (`" CA "`) has a one-letter element. A name
    /// starting in column 13 is a two-letter element (`"FE  "`) only for a known
    /// two-letter symbol in a non-polymer residue; 4-character hydrogen names
    /// (`HD11`, `HH31`) are hydrogens. Leading digits (`1HH3`) are skipped.
    static func fromPDBName(_ raw: String, residueName: String, isHetero: Bool) -> String {
        let chars = Array(raw.utf8)
        let trimmedName = raw.trimmingBlanks()
        guard !trimmedName.isEmpty else { return "" }
        if let first = chars.first, isLetter(first) {
            let two = String(decoding: chars.prefix(2).map(upper), as: UTF8.self)
            let polymer = ResidueTable.oneLetterCode(for: residueName) != nil
            if twoLetter.contains(two) && !polymer
                && (isHetero || trimmedName.uppercased() == residueName.uppercased()) {
                return two
            }
        }
        return fromName(trimmedName, residueName: residueName)
    }

    /// Infers the element from a bare atom name (mmCIF without `type_symbol`).
    static func fromName(_ name: String, residueName: String) -> String {
        let upperName = name.uppercased()
        if upperName == residueName.uppercased() && twoLetter.contains(upperName) { return upperName }
        for c in upperName.utf8 where isLetter(c) {
            return String(UnicodeScalar(c))
        }
        return ""
    }
}

extension String {
    /// The string without leading and trailing spaces/tabs.
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

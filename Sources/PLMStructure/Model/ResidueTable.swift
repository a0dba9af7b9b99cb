/// Residue-name tables: one-letter codes (standard, modified and force-field variants), waters, caps.
public enum ResidueTable {
    /// The 20 standard amino acids plus SEC/PYL.
    static let standardAminoAcids: [String: Character] = [
        "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
        "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
        "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
        "SEC": "U", "PYL": "O",
    ]

    /// Modified residues and force-field protonation/terminal variants mapped to their parent.
    static let variantAminoAcids: [String: Character] = [
        // Modified residues common in the PDB.
        "MSE": "M", "SEP": "S", "TPO": "T", "PTR": "Y", "CSO": "C", "CSD": "C", "CME": "C",
        "OCS": "C", "CSS": "C", "CAS": "C", "MLY": "K", "M3L": "K", "KCX": "K", "LLP": "K",
        "ALY": "K", "HYP": "P", "MLE": "L", "NLE": "L", "NVA": "V", "ABA": "A", "AIB": "A",
        "PCA": "E", "CGU": "E", "FME": "M", "SAC": "S", "DAL": "A", "DLE": "L", "DVA": "V",
        "TYS": "Y", "HIC": "H", "NEP": "H", "MHS": "H", "SCH": "C", "SMC": "C", "OMT": "M",
        "ASX": "B", "GLX": "Z", "UNK": "X",
        // CHARMM / AMBER / GROMACS names.
        "HSD": "H", "HSE": "H", "HSP": "H", "HID": "H", "HIE": "H", "HIP": "H", "HIN": "H",
        "HISD": "H", "HISE": "H", "HISH": "H", "HISA": "H", "HISB": "H", "HIS1": "H", "HIS2": "H",
        "CYX": "C", "CYM": "C", "CYS2": "C", "CYSH": "C", "CYN": "C",
        "ASH": "D", "ASPH": "D", "ASPP": "D", "GLH": "E", "GLUH": "E", "GLUP": "E",
        "LYN": "K", "LYSH": "K", "LYP": "K", "LSN": "K", "ARGN": "R", "ARN": "R", "TYM": "Y",
    ]

    /// Nucleotides (DNA and RNA) mapped to their base letter.
    static let nucleotides: [String: Character] = [
        "DA": "A", "DC": "C", "DG": "G", "DT": "T", "DU": "U", "DI": "I",
        "A": "A", "C": "C", "G": "G", "U": "U", "T": "T", "I": "I", "N": "N",
        "ADE": "A", "CYT": "C", "GUA": "G", "THY": "T", "URA": "U",
        "RA": "A", "RC": "C", "RG": "G", "RU": "U",
        "DA5": "A", "DA3": "A", "DC5": "C", "DC3": "C", "DG5": "G", "DG3": "G", "DT5": "T", "DT3": "T",
        "RA5": "A", "RA3": "A", "RC5": "C", "RC3": "C", "RG5": "G", "RG3": "G", "RU5": "U", "RU3": "U",
        "A5": "A", "A3": "A", "C5": "C", "C3": "C", "G5": "G", "G3": "G", "U5": "U", "U3": "U",
    ]

    /// Water residue names (PDB, CHARMM, AMBER, GROMACS).
    static let waters: Set<String> = ["HOH", "WAT", "H2O", "DOD", "D2O", "SOL", "TIP", "TIP3",
                                      "TIP4", "TIP5", "T3P", "T4P", "T5P", "SPC", "SPCE", "TP3"]

    /// Terminal caps that are part of the chain but carry no sequence letter.
    static let caps: Set<String> = ["ACE", "NME", "NMA", "NH2", "NHE", "FOR", "CT3"]

    /// One-letter code for a residue name, or nil if the name is not a known amino acid or nucleotide.
    ///
    /// AMBER terminal names (`NALA`, `CSER`) map like their parent residue.
    public static func oneLetterCode(for residueName: String) -> Character? {
        let name = residueName.uppercased()
        if let c = standardAminoAcids[name] ?? variantAminoAcids[name] ?? nucleotides[name] {
            return c
        }
        if name.count == 4, let first = name.first, first == "N" || first == "C" {
            let rest = String(name.dropFirst())
            if let c = standardAminoAcids[rest] ?? variantAminoAcids[rest] { return c }
        }
        return nil
    }

    /// True for amino-acid names (standard, modified or force-field variant).
    public static func isAminoAcid(_ residueName: String) -> Bool {
        guard let c = oneLetterCode(for: residueName) else { return false }
        return nucleotides[residueName.uppercased()] == nil || c == "X"
    }

    /// True for water residue names.
    public static func isWater(_ residueName: String) -> Bool {
        waters.contains(residueName.uppercased())
    }

    /// True for terminal caps (ACE, NME, NH2, ...).
    public static func isCap(_ residueName: String) -> Bool {
        caps.contains(residueName.uppercased())
    }
}

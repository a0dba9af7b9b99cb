/// One atom record: identity, residue membership, occupancy, B-factor and position (Angstrom).
///
/// Coordinates are kept as `Double` exactly as parsed from the text (PDB/mmCIF);
/// `positionFloat` gives the same value rounded to `Float`, which equals what
/// MDTraj/ProDy store (they parse to float64 then cast to float32).
public struct Atom: Hashable, Sendable {
    /// Atom serial number from the file (hybrid-36 decoded; -1 when absent or unreadable).
    public var serial: Int
    /// Atom name, blanks removed (`CA`, `OC1`, `HH31`, `O5'`).
    public var name: String
    /// Element symbol in upper case (`C`, `FE`); from the element column or inferred from the name.
    public var element: String
    /// Residue name, blanks removed (`ALA`, `MSE`, `HOH`).
    public var residueName: String
    /// Residue sequence number (author numbering by default; may be <= 0).
    public var residueNumber: Int
    /// Insertion code; empty when blank.
    public var insertionCode: String
    /// Chain identifier; empty when blank (GROMACS-written PDBs).
    public var chainID: String
    /// Alternate-location identifier of the conformer kept; empty when blank.
    public var altLoc: String
    /// Occupancy (1.0 when the field is missing).
    public var occupancy: Double
    /// Isotropic B-factor (0.0 when the field is missing).
    public var bFactor: Double
    /// True for HETATM records.
    public var isHetero: Bool
    /// PDB segment identifier (columns 73-76); empty when blank or for mmCIF.
    public var segmentID: String
    /// x coordinate (Angstrom).
    public var x: Double
    /// y coordinate (Angstrom).
    public var y: Double
    /// z coordinate (Angstrom).
    public var z: Double

    /// Creates an atom; positions in Angstrom.
    public init(serial: Int = -1, name: String, element: String, residueName: String,
                residueNumber: Int, insertionCode: String = "", chainID: String,
                altLoc: String = "", occupancy: Double = 1, bFactor: Double = 0,
                isHetero: Bool = false, segmentID: String = "",
                x: Double, y: Double, z: Double) {
        self.serial = serial; self.name = name; self.element = element
        self.residueName = residueName; self.residueNumber = residueNumber
        self.insertionCode = insertionCode; self.chainID = chainID; self.altLoc = altLoc
        self.occupancy = occupancy; self.bFactor = bFactor; self.isHetero = isHetero
        self.segmentID = segmentID; self.x = x; self.y = y; self.z = z
    }

    /// Position in Angstrom as Double.
    @inlinable public var position: SIMD3<Double> { SIMD3(x, y, z) }
    /// Position in Angstrom rounded to Float.
    @inlinable public var positionFloat: SIMD3<Float> { SIMD3(Float(x), Float(y), Float(z)) }
    /// True for hydrogen (and deuterium) atoms.
    public var isHydrogen: Bool { element == "H" || element == "D" }
}

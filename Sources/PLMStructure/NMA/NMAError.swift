/// Why normal mode analysis (or a CA-based map) could not be computed for a structure.
public enum NMAError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Fewer C-alpha atoms than the model needs (GNM 2, ANM 3; SeqDance's clustering needs 3 modes per model).
    case tooFewResidues(count: Int, minimum: Int)
    /// The matrix is too large for 32-bit LAPACK indices.
    case tooLarge(order: Int)
    /// Two C-alpha atoms share a position (the ANM Hessian divides by their distance).
    case coincidentAtoms(first: Int, second: Int)
    /// A coordinate is NaN or infinite.
    case nonFiniteCoordinate(index: Int)
    /// LAPACK returned INFO != 0.
    case lapackFailed(routine: String, info: Int)
    /// After removing zero modes nothing (or too little) is left.
    case noModes(model: String, zeroModes: Int, order: Int)
    /// SeqDance's split left a frequency cluster without modes (its correlation would be 0/0).
    case emptyModeCluster(model: String, cluster: Int, modes: Int)
    /// A requested chain is not in the structure or has no C-alpha atoms.
    case chainNotFound(file: String, chain: String, available: [String])
    /// The structure has no amino-acid residue with a C-alpha atom.
    case noCAlphaAtoms(file: String)

    public var description: String {
        switch self {
        case .tooFewResidues(let n, let minimum):
            return "too few C-alpha atoms for normal modes: \(n) (need at least \(minimum))"
        case .tooLarge(let n):
            return "matrix of order \(n) is too large for LAPACK's 32-bit indices"
        case .coincidentAtoms(let i, let j):
            return "C-alpha atoms \(i) and \(j) have identical coordinates"
        case .nonFiniteCoordinate(let i):
            return "C-alpha atom \(i) has a non-finite coordinate"
        case .lapackFailed(let routine, let info):
            return "LAPACK \(routine) failed (INFO = \(info))"
        case .noModes(let model, let zeros, let n):
            return "\(model): no non-zero modes (\(zeros) of \(n) eigenvalues below the zero threshold)"
        case .emptyModeCluster(let model, let c, let modes):
            return "\(model): frequency cluster \(c + 1) of 3 is empty (\(modes) non-zero modes); structure too small or disconnected"
        case .chainNotFound(let file, let chain, let available):
            return "\(file): chain '\(chain)' not found or without C-alpha atoms (chains with C-alpha atoms: \(available.map { $0.isEmpty ? "' '" : $0 }.joined(separator: ", ")))"
        case .noCAlphaAtoms(let file):
            return "\(file): no amino-acid residue with a C-alpha atom"
        }
    }
}

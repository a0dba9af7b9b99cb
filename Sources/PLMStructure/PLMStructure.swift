// PLMStructure module. See docs/ARCHITECTURE.md.
//
// Layout:
//   Model/       Atom, Residue, Chain, StructureModel, Structure, UnitCell, residue tables
//   IO/          PDB and mmCIF readers (byte-level parsing), the typed error
//   Trajectory/  DCD and XTC streaming readers, the `TrajectoryReader` protocol
//
// Units: every length this module returns is in Angstrom (PDB, mmCIF and DCD
// store Angstrom; XTC stores nm and is converted on read). Times are in ps.
enum PLMStructureModule { static let name = "PLMStructure" }

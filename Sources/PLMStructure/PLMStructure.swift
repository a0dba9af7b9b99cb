// PLMStructure module. See docs/ARCHITECTURE.md.
enum PLMStructureModule { static let name = "PLMStructure" }

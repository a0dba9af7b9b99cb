// PLMData module. See docs/ARCHITECTURE.md.
enum PLMDataModule { static let name = "PLMData" }

import Foundation
import PLMData
import PLMStructure

// `plm prepare contact-map`: C-alpha distance maps and S-PLM structure-encoder
// inputs (docs SPLM.md) into one HDF5 file.
//
// Layout (h5py: `f["1abc/contact_map"][...]`):
//   root attributes: layout = "splm-contact-maps", layout_version = 1
//   /NAME                   group, one per structure
//     distance     float32 [L, L]     C-alpha distances (Angstrom), chains concatenated
//     contact_map  float32 [C, S, S]  channel c = (d_c - clip(D, 0, d_c)) / d_c; S = --size
//                                     (zero-padded / cropped to the first S residues) or L
//     attributes:  sequence (one letter per row of `distance`; chains separated by ':'),
//                  chains (chain IDs), length L, size S, thresholds [C] (Angstrom),
//                  source_file (the structure's path)

/// Options of `plm prepare contact-map`.
public struct ContactMapPrepareOptions: Sendable {
    /// Chains to use (nil = every chain with C-alpha atoms).
    public var chains: [String]?
    /// One threshold per channel (Angstrom).
    public var thresholds: [Double] = ContactMap.splmDefaultThresholds
    /// Pad/crop the channels to S x S (nil = L).
    public var size: Int?
    /// Structures with more C-alpha atoms fail with a reason.
    public var maxResidues: Int = 100_000
    /// Replace structures already in the output (default: skip them).
    public var overwrite = false
    /// gzip the datasets.
    public var compress = false
    public init() {}
}

/// Structure file -> CA distance map + S-PLM channels -> HDF5.
public enum ContactMapPrepare {
    public static let layoutName = "splm-contact-maps"
    public static let layoutVersion = 1

    /// One structure's maps.
    public struct Payload: Sendable {
        public var sequence: String
        public var chains: [String]
        public var distance: HDF5Array<Float>
        public var channels: HDF5Array<Float>
        public var residues: Int
        public var size: Int
        /// Residues stored as X (no one-letter code), `NAME label`.
        public var unmapped: [String] = []
    }

    /// Computes one structure's maps (thread-safe).
    public static func compute(_ item: PrepareItem, options: ContactMapPrepareOptions) throws -> Payload {
        let s = try Structure.read(contentsOf: URL(fileURLWithPath: item.path),
                                   options: StructureReadOptions(altLocs: .first, firstModelOnly: true))
        let trace = try s.caTrace(chains: options.chains)
        guard trace.count <= options.maxResidues else {
            throw PrepareInputError("\(trace.count) C-alpha atoms exceed --max-residues \(options.maxResidues)")
        }
        let n = trace.count, size = options.size ?? n
        let d = ContactMap.distanceMatrix(trace.coordinates)
        let ch = ContactMap.splmChannels(distance: d, length: n, thresholds: options.thresholds, size: size)
        return Payload(sequence: trace.sequence(linker: ":"), chains: trace.chains.map(\.chainID),
                       distance: HDF5Array(shape: [n, n], values: d.map { Float($0) }),
                       channels: HDF5Array(shape: [options.thresholds.count, size, size], values: ch),
                       residues: n, size: size, unmapped: trace.unmappedResidues)
    }

    /// Opens (or creates) the output file; refuses files of another layout.
    public static func openFile(_ path: String) throws -> HDF5File {
        if FileManager.default.fileExists(atPath: path) {
            guard HDF5File.isHDF5(path) else { throw PrepareInputError("--out \(path) exists and is not an HDF5 file") }
            let f = try HDF5File.open(path, mode: .readWrite)
            if try f.hasAttribute("layout") {
                let layout = try f.stringAttribute("layout")
                guard layout == layoutName else {
                    throw PrepareInputError("--out \(path) holds '\(layout)' data, not contact maps")
                }
            } else if !(try f.childNames()).isEmpty {
                throw PrepareInputError("--out \(path) is an HDF5 file without the '\(layoutName)' layout attribute; refusing to add to it")
            } else {
                try setLayout(f)
            }
            return f
        }
        let f = try HDF5File.create(path, overwrite: false)
        try setLayout(f)
        return f
    }

    private static func setLayout(_ f: HDF5File) throws {
        try f.setAttribute("layout", layoutName)
        try f.setAttribute("layout_version", layoutVersion)
    }

    /// Writes one structure's group (replacing it when `overwrite`); removes a half-written group on failure.
    public static func write(_ p: Payload, name: String, sourceFile: String, thresholds: [Double],
                             to file: HDF5File, overwrite: Bool, compress: Bool) throws {
        if file.exists(name) {
            guard overwrite else {
                throw HDF5Error(.alreadyExists, file: file.filePath, object: "/" + name, "already present")
            }
            try file.delete(name)
        }
        do {
            let g = try file.createGroup(name)
            let opts: HDF5DatasetOptions = compress ? .compressed() : .contiguous
            try g.write("distance", p.distance, options: opts)
            try g.write("contact_map", p.channels, options: opts)
            try g.setAttribute("sequence", p.sequence)
            try g.setAttribute("chains", p.chains)
            try g.setAttribute("length", p.residues)
            try g.setAttribute("size", p.size)
            try g.setAttribute("thresholds", thresholds)
            try g.setAttribute("source_file", sourceFile)
            try file.flush()
        } catch {
            if file.exists(name) { try? file.delete(name) }
            throw error
        }
    }

    /// Prepares every item into `output` (appending), in parallel.
    public static func run(_ items: [PrepareItem], output: String, options: ContactMapPrepareOptions,
                           runner: PrepareRunner, interrupt: InterruptFlag? = nil) throws -> PrepareReport {
        let file = try openFile(output)
        defer { file.close() }
        return runner.run(items, interrupt: interrupt, precheck: { item in
            file.exists(item.name) && !options.overwrite ? "already in \(output) (pass --overwrite to replace it)" : nil
        }, compute: { item in
            try compute(item, options: options)
        }, write: { item, p in
            try write(p, name: item.name, sourceFile: item.path, thresholds: options.thresholds,
                      to: file, overwrite: options.overwrite, compress: options.compress)
            return (p.residues, PrepareRecord.unmappedNote(p.unmapped))
        })
    }
}

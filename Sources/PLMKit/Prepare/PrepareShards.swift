import Foundation
import PLMData

/// `plm prepare` under `mpirun -np N`: rank r prepares its share of the inputs
/// (`Communicator.shard`) into its own file (`Communicator.shardPath`), then rank 0 merges the shards into the requested output
/// (what an existing output already holds is kept unless overwriting) and
/// removes them. An interrupted job leaves its shards; rerunning the command
/// skips what they hold and merges.
public enum PrepareShards {
    /// Every protein of SeqDance feature-store shards into `output`. Returns the number copied.
    public static func mergeSeqDance(_ shards: [String], into output: String, compress: Bool, overwrite: Bool) throws -> Int {
        let dst = try NMAPrepare.openStore(output, compress: compress)
        defer { dst.close() }
        var copied = 0
        for shard in shards where FileManager.default.fileExists(atPath: shard) {
            let src = try SeqDanceFeatureStore(path: shard)
            defer { src.close() }
            for name in src.names() where overwrite || !dst.contains(name) {
                let r = try src.read(name)
                try dst.writeTokenSpace(protein: name, residue: r.residue, pair: r.pair, kind: r.metadata.kind,
                                        sequence: r.metadata.sequence, source: r.metadata.source, overwrite: overwrite)
                copied += 1
            }
            try dst.flush()
        }
        return copied
    }

    /// Every structure group of contact-map shards into `output`. Returns the number copied.
    public static func mergeContactMaps(_ shards: [String], into output: String, overwrite: Bool) throws -> Int {
        let dst = try ContactMapPrepare.openFile(output)
        defer { dst.close() }
        var copied = 0
        for shard in shards where FileManager.default.fileExists(atPath: shard) {
            let src = try HDF5File.open(shard)
            defer { src.close() }
            for name in try src.childNames() {
                if dst.exists(name) {
                    guard overwrite else { continue }
                    try dst.delete(name)
                }
                try dst.copy(name, from: src)
                copied += 1
            }
            try dst.flush()
        }
        return copied
    }
}

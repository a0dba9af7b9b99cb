import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMStructure

/// `plm prepare md`: one MD trajectory -> SeqDance MD features in a feature store.
struct PrepareMD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "SeqDance MD features (RMSF, SASA, DSSP, dihedrals, contacts, CA correlation) of a trajectory.",
        discussion: """
        Reads the topology (PDB/mmCIF, first model) and streams the trajectory (DCD or XTC) \
        frame by frame with bounded memory. Every frame is superposed on frame 0 by C-alpha atoms. \
        Per residue (amino acids with a CA): SASA mean/std (Shrake-Rupley, 960 points, probe \
        0.14 nm, nm^2), CA RMSF (nm), DSSP 8-class frequencies, chi1/phi/psi 12-bin histograms. \
        Per residue pair: the nine GetContacts interaction types (contacts per frame, stored as \
        x^(1/3)) and the CA correlation. Written as NAME_res_feature [L+2, 47] and \
        NAME_pair_feature [L+2, L+2, 10] with a metadata row (kind md).
        """)

    @Option(help: "Topology: PDB or mmCIF file with the trajectory's atoms in the same order.")
    var topology: String
    @Option(help: "Trajectory: .xtc or .dcd.")
    var trajectory: String
    @Option(help: "Output HDF5 file; created if missing, appended to otherwise.")
    var out: String
    @Option(help: "Protein name in the output. Default: the topology file name without extension.")
    var name: String?
    @Option(help: "Source column of the metadata (ATLAS, GPCRmd, PED, mdCATH, IDRome, ...).")
    var source: String = SeqDanceSource.atlas
    @Option(help: "Use every K-th frame (frame 0 is the superposition reference).")
    var stride: Int = 1
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Skip the interaction contacts (their channels stay 0).")
    var noContacts = false
    @Flag(help: "Replace the protein if the output already holds it.")
    var overwrite = false
    @Flag(help: "gzip-compress the datasets.")
    var compress = false
    @Flag(help: "Print the time per frame of each feature.")
    var timings = false
    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if stride < 1 { throw ValidationError("--stride must be >= 1, got \(stride)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if source.isEmpty { throw ValidationError("--source must not be empty") }
    }

    func run() throws {
        try refuseUnderMPI("md")
        var options = MDPrepareOptions()
        options.source = source
        options.overwrite = overwrite
        options.compress = compress
        options.features.stride = stride
        options.features.contacts = !noContacts
        if let threads { options.features.threads = threads }
        var bar: ProgressBar? = nil
        var reported = 0
        do {
            let summary = try MDPrepare.run(topology: topology, trajectory: trajectory, out: out, name: name,
                                            options: options) { done, total in
                if bar == nil { bar = ProgressBar("md", total: total, unit: "frames", enabled: !quiet) }
                bar?.advance(done - reported)
                reported = done
            }
            bar?.finish()
            let t = summary.timings
            FileHandle.standardError.write(Data(String(
                format: "wrote %@ (L=%d, %d frames, %.1f s) to %@\n", summary.name, summary.residues, summary.frames,
                t.total, out).utf8))
            if timings {
                let f = Double(max(summary.frames, 1)) / 1000
                print(String(format: "per frame (ms): read %.3f  superposition %.3f  sasa %.3f  dssp %.3f  dihedrals %.3f  contacts %.3f  total %.3f",
                             t.read / f, t.superposition / f, t.sasa / f, t.dssp / f, t.dihedrals / f, t.contacts / f, t.total / f))
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            bar?.finish()
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

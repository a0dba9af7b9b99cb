import Foundation
import PLMKit
import Testing

@Suite("Launcher detection")
struct LauncherTests {
    @Test("srun with several tasks but no MPI environment is refused; one task, PLM_NO_MPI or no Slurm pass")
    func unwiredSrun() throws {
        #expect(throws: (any Error).self) { try Distributed.refuseUnwiredLauncher(["SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "2"]) }
        do {
            try Distributed.refuseUnwiredLauncher(["SLURM_STEP_NUM_TASKS": "2"])
        } catch {
            #expect("\(error)".contains("one of 2 tasks of a Slurm step") && "\(error)".contains("srun --mpi=pmix"), "\(error)")
        }
        try Distributed.refuseUnwiredLauncher(["SLURM_STEP_NUM_TASKS": "1"])
        try Distributed.refuseUnwiredLauncher(["SLURM_STEP_NUM_TASKS": "4", "PLM_NO_MPI": "1"])
        try Distributed.refuseUnwiredLauncher(["SLURM_NTASKS": "8"])   // a batch script's own process: no step
        try Distributed.refuseUnwiredLauncher([:])
    }
}

// swift-tools-version:6.0
// PLMKit — structure- and dynamics-aware protein language models in Swift.
// Module plan: docs/ARCHITECTURE.md. System libraries come from Debian:
// libopenblas-dev (cblas + LAPACK) and libhdf5-dev.
import PackageDescription

// The engine's vector kernels (SIMD8<Float>) are compiled for AVX2 + FMA
// (`-target-cpu haswell`, any x86-64 CPU since 2013) instead of SwiftPM's
// SSE2 baseline, which splits every 8-lane operation in two. `plm` checks
// the CPU at start-up and says how to rebuild when it lacks AVX2:
// PLM_TARGET_CPU=x86-64 swift build -c release (or any -target-cpu name).
// Floating-point results do not change: Swift never contracts a*b+c into an FMA.
#if arch(x86_64)
let kernelCPU = Context.environment["PLM_TARGET_CPU"] ?? "haswell"
#else
let kernelCPU = Context.environment["PLM_TARGET_CPU"] ?? ""
#endif
let kernelFlags: [String] = kernelCPU.isEmpty ? [] : ["-target-cpu", kernelCPU]
let cpuCheck: [SwiftSetting] = kernelCPU == "haswell" ? [.define("PLM_KERNELS_NEED_AVX2")] : []

let package = Package(
    name: "PLMKit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "plm", targets: ["plm"]),
        .library(name: "PLMTensor", targets: ["PLMTensor"]),
        .library(name: "PLMKit", targets: ["PLMKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries (pkg-config names; Debian packages named for `swift build`'s hint).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapack-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),

        // Float32 tensors, reverse-mode autodiff, kernels, RNG, thread pool.
        .target(name: "PLMTensor", dependencies: ["COpenBLAS"],
                // The kernels are optimised even in debug builds: at -Onone
                // SIMD vector code is ~50x slower and the test suite with it.
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug)), .unsafeFlags(kernelFlags)]),
        // Modules, safetensors, optimizers (ESM-2 encoder, LoRA, adapters).
        .target(name: "PLMNN", dependencies: ["PLMTensor"], swiftSettings: [.unsafeFlags(kernelFlags)]),
        // Structures and trajectories: PDB/mmCIF/DCD/XTC, NMA, MD features. No NN dependency.
        .target(name: "PLMStructure", dependencies: ["COpenBLAS"]),
        // Alphabet, FASTA, HDF5 feature store, datasets and batching.
        .target(name: "PLMData", dependencies: ["PLMTensor", "PLMStructure", "CHDF5"]),
        // Core: protocols, plugin registry (recipes and trainer arrive with issue 5).
        .target(name: "PLMKit", dependencies: ["PLMNN", "PLMData", "PLMStructure", .product(name: "Yams", package: "Yams")]),

        // Plugins: each its own target (runtime plugins registered by `plm`, not SwiftPM build plugins).
        .target(name: "MaskedLM", dependencies: ["PLMKit"], path: "Plugins/MaskedLM"),
        .target(name: "Tuning", dependencies: ["PLMKit"], path: "Plugins/Tuning"),
        .target(name: "DynamicsRegression", dependencies: ["PLMKit"], path: "Plugins/DynamicsRegression"),
        .target(name: "ContrastiveStructure", dependencies: ["PLMKit", "PLMStructure"], path: "Plugins/ContrastiveStructure"),
        .target(name: "Downstream", dependencies: ["PLMKit"], path: "Plugins/Downstream"),
        .target(name: "GraphFusion", dependencies: ["PLMKit", "PLMStructure", "ContrastiveStructure"], path: "Plugins/GraphFusion"),

        // The command-line tool.
        .executableTarget(name: "plm", dependencies: [
            "PLMKit", "PLMTensor", "MaskedLM", "Tuning", "ContrastiveStructure", "DynamicsRegression", "Downstream", "GraphFusion",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: cpuCheck),
        // Example: a third-party target plugin registered next to the built-ins.
        .executableTarget(name: "custom-target-example", dependencies: ["PLMKit"], path: "examples/custom-target",
                          exclude: ["recipe.yaml", "README.md"]),
        // Micro-benchmark (not a test): engine matmul vs raw cblas_sgemm.
        .executableTarget(name: "plm-microbench", dependencies: ["PLMTensor", "COpenBLAS"]),
        // Feature benchmark (not a test): MD features per frame and NMA vs MDTraj/ProDy (docs/FEATURES.md).
        .executableTarget(name: "plm-feature-bench", dependencies: ["PLMStructure", "COpenBLAS"]),

        .testTarget(name: "PLMTensorTests", dependencies: ["PLMTensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PLMNNTests", dependencies: ["PLMNN"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PLMStructureTests", dependencies: ["PLMStructure"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PLMDataTests", dependencies: ["PLMData"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PLMKitTests", dependencies: ["PLMKit", "MaskedLM", "Tuning", "ContrastiveStructure", "DynamicsRegression", "Downstream", "GraphFusion"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PLMCLITests", dependencies: ["plm", "custom-target-example", "PLMData", "PLMNN"]),
    ],
    // Swift 5 language mode: the kernels hand raw buffer pointers to
    // DispatchQueue.concurrentPerform; Swift 6's strict sendability checking
    // would need an @unchecked wrapper at every such site for no added safety.
    swiftLanguageModes: [.v5]
)

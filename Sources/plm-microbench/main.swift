// Micro-benchmark (not a test): GFLOP/s of matmul through PLMTensor against
// raw cblas_sgemm on the same shapes, same process, interleaved rounds.
//
//   swift run -c release plm-microbench [--iters N] [--rounds R] [--threads T] [MxKxN ...]
//
// Default shapes are the ESM-2 t6_8M FFN and attention projections at
// B*L = 2048 tokens. The acceptance shape is 2048x320x1280 (engine ≥ 90% of raw).
import COpenBLAS
import Foundation
import PLMTensor

struct Options {
    var iters = 20
    var rounds = 5
    var threads: Int? = nil
    var shapes: [(Int, Int, Int)] = [(2048, 320, 1280), (2048, 1280, 320), (2048, 320, 320), (4096, 480, 1920)]
}

func parse() -> Options {
    var o = Options()
    var args = Array(CommandLine.arguments.dropFirst())
    var custom: [(Int, Int, Int)] = []
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--iters": o.iters = Int(args.removeFirst()) ?? o.iters
        case "--rounds": o.rounds = Int(args.removeFirst()) ?? o.rounds
        case "--threads": o.threads = Int(args.removeFirst())
        case "-h", "--help":
            print("usage: plm-microbench [--iters N] [--rounds R] [--threads T] [MxKxN ...]")
            exit(0)
        default:
            let p = a.split(separator: "x").compactMap { Int($0) }
            guard p.count == 3 else { FileHandle.standardError.write(Data("bad shape '\(a)' (want MxKxN)\n".utf8)); exit(2) }
            custom.append((p[0], p[1], p[2]))
        }
    }
    if !custom.isEmpty { o.shapes = custom }
    return o
}

@inline(never)
func seconds(_ body: () -> Void) -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

let opts = parse()
if let t = opts.threads { Threads.configure(t) }
print("openblas core: \(Threads.blasCoreName)   threads: \(Threads.count)   OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
print(String(format: "%-18@ %12@ %12@ %8@", "M x K x N" as NSString, "raw GFLOP/s" as NSString, "engine" as NSString, "ratio" as NSString))
var worst = Double.infinity
for (m, k, n) in opts.shapes {
    var rng = RNG(seed: 1)
    let x = Tensor.normal([m, k], rng: &rng)
    let w = Tensor.normal([k, n], rng: &rng)
    let c = Tensor.zeros([m, n])
    let flop = 2.0 * Double(m * k * n) * Double(opts.iters)
    func raw() {
        for _ in 0..<opts.iters {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        x.data, Int32(k), w.data, Int32(n), 0, c.data, Int32(n))
        }
    }
    func engine() {
        withNoGrad { for _ in 0..<opts.iters { _ = x.matmul(w) } }
    }
    raw(); engine()  // warm-up
    var tr: [Double] = [], te: [Double] = []
    for _ in 0..<opts.rounds {   // interleaved so drift hits both alike
        tr.append(seconds(raw))
        te.append(seconds(engine))
    }
    let rawG = flop / tr.sorted()[tr.count / 2] / 1e9
    let engG = flop / te.sorted()[te.count / 2] / 1e9
    worst = min(worst, engG / rawG)
    print(String(format: "%-18@ %12.1f %12.1f %7.1f%%", "\(m)x\(k)x\(n)" as NSString, rawG, engG, 100 * engG / rawG))
}
print(String(format: "worst engine/raw ratio: %.1f%% (median of %d rounds x %d iterations)", 100 * worst, opts.rounds, opts.iters))

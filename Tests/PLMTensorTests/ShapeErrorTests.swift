import Foundation
import PLMTensor
import Testing

/// Programmer errors trap with a message naming both shapes (run in a child
/// process through exit tests).
@Suite("Shape errors")
struct ShapeErrorTests {
    @Test("matmul inner-dimension mismatch names both shapes")
    func matmulMismatch() async throws {
        let r = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
        }
        let text = String(decoding: r.standardErrorContent, as: UTF8.self)
        #expect(text.contains("[2, 3]") && text.contains("[4, 5]"))
    }

    @Test("broadcast failure names both shapes")
    func broadcastMismatch() async throws {
        let r = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        let text = String(decoding: r.standardErrorContent, as: UTF8.self)
        #expect(text.contains("[2, 3]") && text.contains("[4]"))
    }

    @Test("layer norm weight of the wrong size names both shapes")
    func layerNormMismatch() async throws {
        let r = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 8]).layerNorm(weight: Tensor.ones([7]), bias: nil)
        }
        let text = String(decoding: r.standardErrorContent, as: UTF8.self)
        #expect(text.contains("[7]") && text.contains("[2, 8]"))
    }
}

import Foundation
import PLMTensor
import Testing

/// gatherRows / scatterAddRows (Ops/Graph.swift): values and gradient checks.
@Suite struct GraphOpsTests {
    @Test func forwardValues() {
        let x = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        #expect(x.gatherRows([2, 0, 2]).toArray() == [5, 6, 1, 2, 5, 6])
        #expect(x.gatherRows([2, 0, 2]).shape == [3, 2])
        // Rows 0 and 2 of the messages both land in row 1; row 0 and 3 stay 0.
        #expect(x.scatterAddRows([1, 2, 1], rows: 4).toArray() == [0, 0, 6, 8, 3, 4, 0, 0])
        #expect(x.gatherRows([]).shape == [0, 2])
        #expect(Tensor.zeros([0, 2]).scatterAddRows([], rows: 2).toArray() == [0, 0, 0, 0])
        // Equals indexSelect on axis 0.
        let y = rand([5, 3, 2], 3)
        #expect(y.gatherRows([4, 1, 1, 0]).toArray() == y.indexSelect(axis: 0, indices: [4, 1, 1, 0]).toArray())
    }

    @Test func gradients() {
        let index: [Int32] = [3, 0, 3, 1, 4, 4, 4, 2, 0]
        gradCheck("gatherRows", [rand([5, 4], 11)]) { $0[0].gatherRows(index) }
        gradCheck("scatterAddRows", [rand([9, 4], 12)]) { $0[0].scatterAddRows(index, rows: 6) }
        // Message passing: gather sources, weight, scatter into destinations.
        let dst: [Int32] = [0, 1, 2, 3, 4, 0, 0, 2, 1]
        gradCheck("gather-scale-scatter", [rand([5, 3], 13), rand([9, 1], 14)]) {
            ($0[0].gatherRows(index) * $0[1]).scatterAddRows(dst, rows: 5)
        }
    }
}

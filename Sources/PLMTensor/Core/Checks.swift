/// The engine's `precondition`: shadows the standard library's inside
/// PLMTensor so that a failed check prints its message in every build.
/// Swift's own `precondition` drops the message at -O, which would leave a
/// user of the release `plm` with "Fatal error" and no shapes; shape errors
/// are part of the engine's contract (they name both shapes).
@usableFromInline @inline(__always)
func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                  file: StaticString = #fileID, line: UInt = #line) {
    if _slowPath(!condition()) { fatalError(message(), file: file, line: line) }
}

/// `preconditionFailure` that keeps its message in every build (see above).
@usableFromInline @inline(__always)
func preconditionFailure(_ message: @autoclosure () -> String = String(),
                         file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}

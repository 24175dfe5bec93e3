@testable import SelftestKit

/// The error `body` refuses with, or nil when it accepts: for the tests of
/// up-front checks, which look at its kind, domain and input.
func refusal(_ body: () throws -> Void) -> SelftestError? {
    do {
        try body()
        return nil
    } catch {
        return error as? SelftestError
    }
}

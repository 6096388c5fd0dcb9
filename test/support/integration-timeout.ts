// A guard against hangs, not a measure: the tests wait for what they expect, and a loaded 2-core
// machine may take many seconds to start a sandbox, a synthesis or DynamoDB Local.
jest.setTimeout(120_000);

import { TEST_GUARD_MS } from './hang-guard';

// A guard against hangs, not a measure: the tests wait for what they expect, and a loaded 2-core
// machine may take many seconds to start a sandbox, a synthesis, DynamoDB Local or Chromium.
jest.setTimeout(TEST_GUARD_MS);

/** InProcessBroker options are checked by the constructor, naming the option. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { InProcessBroker, type InProcessBrokerOptions } from '../../src/index.js';

it('a hub that is not an InProcessHub, a node id that is not a string: TypeError', () => {
  assert.throws(
    () => new InProcessBroker({ hub: {} } as unknown as InProcessBrokerOptions),
    (error: unknown) => error instanceof TypeError && /^hub must be an InProcessHub/.test(error.message),
  );
  // 5 used to pass the node id check (the pattern test stringifies it).
  assert.throws(
    () => new InProcessBroker({ nodeId: 5 } as unknown as InProcessBrokerOptions),
    (error: unknown) => error instanceof TypeError && /^nodeId must be a string/.test(error.message),
  );
});

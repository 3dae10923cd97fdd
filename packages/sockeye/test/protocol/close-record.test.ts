/**
 * The close record and the "close expected" signal of the core (RFC 6455 section 7.1):
 * which close frames were sent and received, who started the closing handshake, whether
 * it was clean, and who ends TCP once the connection is closed (section 7.1.1: the
 * server first; a client waits for it). The shells read these instead of guessing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloseCode, type CloseRecord, Opcode, type Role } from '../../src/protocol/index.js';
import { closePayload, peerFrame, Recorder } from './helpers.js';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const RUNS = IN_CI ? 10_000 : 1_000;

const ROLES: Role[] = ['server', 'client'];

/** The peer of `role` is the other role: it closes TCP first when it is the server. */
function expectedTcpClose(role: Role): CloseRecord['tcpClose'] {
  return role === 'server' ? 'end' : 'await-peer';
}

describe('Connection.closeRecord (RFC 6455 section 7.1)', () => {
  for (const role of ROLES) {
    describe(role, () => {
      it('is empty while open: no frame, no initiator, nothing for TCP yet', () => {
        const rec = new Recorder({ role });
        assert.deepEqual(rec.connection.closeRecord, {
          sent: null,
          received: null,
          initiator: null,
          wasClean: false,
          tcpClose: null,
        });
      });

      it('we close first: closing records our frame; the answer completes a clean handshake', () => {
        const rec = new Recorder({ role });
        rec.connection.close(4000, 'bye');
        assert.deepEqual(rec.connection.closeRecord, {
          sent: { code: 4000, reason: 'bye' },
          received: null,
          initiator: 'local',
          wasClean: false,
          tcpClose: null,
        });
        rec.receive(peerFrame(role, Opcode.Close, closePayload(4000)));
        assert.deepEqual(rec.connection.closeRecord, {
          sent: { code: 4000, reason: 'bye' },
          received: { code: 4000, reason: '' },
          initiator: 'local',
          wasClean: true,
          tcpClose: expectedTcpClose(role),
        });
      });

      it('the peer closes first: we answer with its code, the handshake is clean', () => {
        const rec = new Recorder({ role });
        rec.receive(peerFrame(role, Opcode.Close, closePayload(1001, 'going')));
        assert.deepEqual(rec.connection.closeRecord, {
          sent: { code: 1001, reason: '' },
          received: { code: 1001, reason: 'going' },
          initiator: 'remote',
          wasClean: true,
          tcpClose: expectedTcpClose(role),
        });
      });

      it('an empty close frame is recorded as 1005 both ways', () => {
        const rec = new Recorder({ role });
        rec.receive(peerFrame(role, Opcode.Close));
        const record = rec.connection.closeRecord;
        assert.deepEqual(record.received, { code: CloseCode.NoStatusReceived, reason: '' });
        assert.deepEqual(record.sent, { code: CloseCode.NoStatusReceived, reason: '' });
        assert.equal(record.wasClean, true);
      });

      it('a failed connection records the close frame it sent and is not clean', () => {
        const rec = new Recorder({ role });
        rec.receive(peerFrame(role, Opcode.Text, Buffer.from([0xff])));
        const record = rec.connection.closeRecord;
        assert.equal(record.sent?.code, CloseCode.InvalidPayload);
        assert.equal(record.received, null);
        assert.equal(record.initiator, 'local');
        assert.equal(record.wasClean, false);
        assert.equal(record.tcpClose, expectedTcpClose(role));
      });

      it('the transport ending before the handshake completes: not clean, TCP is ended now', () => {
        const rec = new Recorder({ role });
        rec.connection.close(1000);
        rec.connection.receiveEof();
        const record = rec.connection.closeRecord;
        assert.equal(record.sent?.code, 1000);
        assert.equal(record.received, null);
        assert.equal(record.wasClean, false);
        // Nothing left to wait for, whatever the role.
        assert.equal(record.tcpClose, 'end');
      });

      it('is final once closed: later calls change nothing', () => {
        const rec = new Recorder({ role });
        rec.receive(peerFrame(role, Opcode.Close, closePayload(1000)));
        const before = rec.connection.closeRecord;
        rec.connection.close(4001);
        rec.connection.receiveEof();
        rec.connection.abort(new Error('late'));
        assert.deepEqual(rec.connection.closeRecord, before);
      });
    });
  }

  it('property: the record agrees with the close reported, for any sequence of closes and EOF', () => {
    type Step = { kind: 'local'; code: number } | { kind: 'remote'; code: number } | { kind: 'eof' };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('local' as const), code: fc.integer({ min: 3000, max: 4999 }) }),
      fc.record({ kind: fc.constant('remote' as const), code: fc.integer({ min: 3000, max: 4999 }) }),
      fc.record({ kind: fc.constant('eof' as const) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...ROLES), fc.array(stepArb, { maxLength: 4 }), (role, steps) => {
        const rec = new Recorder({ role });
        let firstClose: 'local' | 'remote' | null = null;
        for (const step of steps) {
          if (rec.connection.state === 'closed') break;
          if (step.kind === 'local') {
            firstClose ??= 'local';
            rec.connection.close(step.code);
          } else if (step.kind === 'remote') {
            firstClose ??= 'remote';
            rec.receive(peerFrame(role, Opcode.Close, closePayload(step.code)));
          } else {
            rec.connection.receiveEof();
          }
        }
        const record = rec.connection.closeRecord;
        assert.equal(record.initiator, firstClose);
        const closed = rec.closed();
        if (closed === undefined) {
          assert.equal(record.tcpClose, null);
          assert.equal(record.wasClean, false);
          return;
        }
        // Clean exactly when both frames crossed; the code reported is the peer's then.
        assert.equal(record.wasClean, record.sent !== null && record.received !== null);
        if (record.wasClean) assert.equal(closed.code, record.received!.code);
        else assert.equal(closed.code, CloseCode.Abnormal);
        const eofFirst = record.received === null;
        assert.equal(record.tcpClose, role === 'server' || eofFirst ? 'end' : 'await-peer');
      }),
      { numRuns: RUNS },
    );
  });
});

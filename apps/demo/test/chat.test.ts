import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChatProtocolError,
  MAX_CLIENT_MESSAGE_LENGTH,
  MAX_NAME_LENGTH,
  MAX_TEXT_LENGTH,
  normalizeName,
  parseClientMessage,
  parseServerMessage,
} from '../src/shared/chat.js';

describe('chat: client messages (what the server accepts)', () => {
  it('accepts a join and a say, trimmed', () => {
    assert.deepEqual(parseClientMessage('{"type":"join","name":"  Ada   Lovelace "}'), {
      type: 'join',
      name: 'Ada Lovelace',
    });
    assert.deepEqual(parseClientMessage(JSON.stringify({ type: 'say', text: ' 我是阿宝哥 ' })), {
      type: 'say',
      text: '我是阿宝哥',
    });
  });

  it('counts characters, not UTF-16 units, against the limits', () => {
    const name = '😀'.repeat(MAX_NAME_LENGTH);
    assert.equal(normalizeName(name), name);
    assert.throws(() => normalizeName(`${name}a`), ChatProtocolError);
    const text = '😀'.repeat(MAX_TEXT_LENGTH);
    assert.equal(parseClientMessage(JSON.stringify({ type: 'say', text })).type, 'say');
  });

  const refused: Array<[string, string, RegExp]> = [
    ['not JSON', 'hello', /must be JSON/],
    ['an array', '[]', /JSON object/],
    ['an unknown type', '{"type":"shout","text":"x"}', /"type" must be/],
    ['a join without a name', '{"type":"join"}', /"name" string/],
    ['an empty name', '{"type":"join","name":"   "}', /cannot be empty/],
    ['a name with a control character', '{"type":"join","name":"a\\u0007b"}', /control characters/],
    [
      'a name too long',
      JSON.stringify({ type: 'join', name: 'n'.repeat(MAX_NAME_LENGTH + 1) }),
      /at most 32/,
    ],
    ['an empty message', '{"type":"say","text":" "}', /cannot be empty/],
    [
      'a message too long',
      JSON.stringify({ type: 'say', text: 'x'.repeat(MAX_TEXT_LENGTH + 1) }),
      /at most 2000/,
    ],
    ['a text that is not a string', '{"type":"say","text":5}', /"text" string/],
    ['JSON longer than the bound', ' '.repeat(MAX_CLIENT_MESSAGE_LENGTH + 1), /at most 16384/],
  ];
  for (const [name, data, reason] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseClientMessage(data),
        (error: unknown) => error instanceof ChatProtocolError && reason.test(error.message),
      );
    });
  }
});

describe('chat: server messages (what the page shows)', () => {
  it('accepts each server message type', () => {
    const messages = [
      { type: 'welcome', name: 'Ada', members: ['Ada', 'Grace'] },
      { type: 'presence', event: 'join', name: 'Grace', members: ['Ada', 'Grace'] },
      { type: 'presence', event: 'leave', name: 'Grace', members: ['Ada'] },
      { type: 'message', from: 'Ada', text: 'hi', time: 1_700_000_000_000 },
      { type: 'error', reason: 'a name cannot be empty' },
    ];
    for (const message of messages) assert.deepEqual(parseServerMessage(JSON.stringify(message)), message);
  });

  it('ignores what it does not understand', () => {
    for (const data of [
      'not json',
      'null',
      '{"type":"presence","event":"wave","name":"x","members":[]}',
      '{"type":"welcome","name":"x","members":[1]}',
      '{"type":"message","from":"x","text":"y"}',
      '{"type":"other"}',
    ]) {
      assert.equal(parseServerMessage(data), null, data);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ID_FIELDS,
  isIdKey,
  parseLossless,
  stringifyLossless,
} from '../../src/providers/pixverse/upstream/index.ts';

describe('lossless JSON: responses', () => {
  it('keeps an id beyond 2^53 exactly, as a decimal string', () => {
    const body = parseLossless('{"ErrCode":0,"Resp":{"video_id":391504480090022123}}');
    assert.deepEqual(body, { ErrCode: 0, Resp: { video_id: '391504480090022123' } });
    // JSON.parse would have rounded it: make sure this test is meaningful.
    assert.notEqual(String(JSON.parse('391504480090022123')), '391504480090022123');
  });

  it('turns small ids into strings too (fast path)', () => {
    const body = parseLossless(
      '{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":391504480090022,"credits":45}}',
    );
    assert.deepEqual(body, {
      ErrCode: 0,
      ErrMsg: 'success',
      Resp: { video_id: '391504480090022', credits: 45 },
    });
  });

  it('converts id, *_id and *_ids at any depth, including arrays of ids', () => {
    const text =
      '{"Resp":{"id":18446744073709551615,"img_ids":[391504480090022123,7],' +
      '"mask_info":[{"mask_id":"m1","keyframe_id":3}],"account_id":1234,"first_frame_img":99999999999999999}}';
    assert.deepEqual(parseLossless(text), {
      Resp: {
        id: '18446744073709551615',
        img_ids: ['391504480090022123', '7'],
        mask_info: [{ mask_id: 'm1', keyframe_id: '3' }],
        account_id: '1234',
        first_frame_img: '99999999999999999',
      },
    });
  });

  it('coerces status to a number and leaves other numbers as numbers', () => {
    const resp = parseLossless('{"status":"5","size":10.5,"outputWidth":1280,"seed":2147483647}');
    assert.deepEqual(resp, { status: 5, size: 10.5, outputWidth: 1280, seed: 2147483647 });
    assert.deepEqual(parseLossless('{"status":1,"id":"123456789"}'), { status: 1, id: '123456789' });
  });

  it('keeps a non-id integer that would lose digits as a string (lossless path)', () => {
    assert.deepEqual(parseLossless('{"credit_monthly":12345678901234567890,"x":1.25}'), {
      credit_monthly: '12345678901234567890',
      x: 1.25,
    });
  });

  it('does not let a "__proto__" key change the prototype', () => {
    const v = parseLossless('{"__proto__":{"polluted":1},"a":1}');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal(({} as { polluted?: number }).polluted, undefined);
  });

  it('throws SyntaxError on invalid JSON, on both paths', () => {
    assert.throws(() => parseLossless('<html>502</html>'), SyntaxError);
    assert.throws(() => parseLossless('{"video_id":3915044800900221234'), SyntaxError);
  });

  it('isIdKey', () => {
    for (const k of ['id', 'video_id', 'img_ids', 'first_frame_img', 'last_frame_img', 'template_id'])
      assert.ok(isIdKey(k), k);
    for (const k of ['status', 'credits', 'url', 'idle', 'identity']) assert.ok(!isIdKey(k), k);
  });
});

describe('lossless JSON: request bodies', () => {
  it('writes ID_FIELDS strings as raw JSON integers, other strings untouched', () => {
    const out = stringifyLossless({
      prompt: '123',
      img_id: '391504480090022123',
      img_ids: ['391504480090022123', '5'],
      template_id: '302325299692608',
      source_video_id: '18446744073709551615',
      mask_id: '42',
      seed: 7,
      webhook_id: '99',
    });
    assert.equal(
      out,
      '{"prompt":"123","img_id":391504480090022123,"img_ids":[391504480090022123,5],' +
        '"template_id":302325299692608,"source_video_id":18446744073709551615,"mask_id":"42","seed":7,"webhook_id":"99"}',
    );
  });

  it('converts id fields nested in arrays of objects (fusion refs, multi-transition)', () => {
    const out = stringifyLossless({
      image_references: [{ type: 'subject', img_id: '391504480090022123', ref_name: 'cat' }],
      multi_transition: [{ img_id: '1', duration: 3 }, { img_id: '2' }],
    });
    assert.equal(
      out,
      '{"image_references":[{"type":"subject","img_id":391504480090022123,"ref_name":"cat"}],' +
        '"multi_transition":[{"img_id":1,"duration":3},{"img_id":2}]}',
    );
  });

  it('leaves non-digit id values as they are (the provider rejects them) and normalises leading zeros', () => {
    assert.equal(
      stringifyLossless({ img_id: 'abc', template_id: '007', last_frame_img: 12 }),
      '{"img_id":"abc","template_id":7,"last_frame_img":12}',
    );
  });

  it('property: any decimal digit string of up to 19 digits survives stringify → parse as an id', () => {
    // Short ones from a pattern, plus uniformly sized big ones (16–19 digits, beyond 2^53 mostly).
    const idString = fc.oneof(
      fc.stringMatching(/^(0|[1-9][0-9]{0,18})$/),
      fc.bigInt({ min: 10n ** 15n, max: 10n ** 19n - 1n }).map(String),
    );
    fc.assert(
      fc.property(idString, fc.constantFrom(...ID_FIELDS), (id, field) => {
        const wire = stringifyLossless({ [field]: id, [`${field}_list`]: 'x' });
        // On the wire the id is a bare integer…
        assert.ok(wire.includes(`"${field}":${id},`), wire);
        // …and it comes back as the same string.
        const back = parseLossless(wire);
        assert.deepEqual(back, { [field]: id, [`${field}_list`]: 'x' });
      }),
      { numRuns: 500 },
    );
  });

  it('property: any 64-bit unsigned id in a response comes back exact', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
        const back = parseLossless(`{"ErrCode":0,"Resp":{"video_id":${n},"img_ids":[${n}]}}`);
        assert.deepEqual(back, { ErrCode: 0, Resp: { video_id: n.toString(), img_ids: [n.toString()] } });
      }),
      { numRuns: 500 },
    );
  });
});

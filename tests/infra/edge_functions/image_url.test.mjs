// The image URL CloudFront Function, run under Node's test runner (node --test).
// tests/infra/test_image_urls.py runs this file with the function as the synth generates it:
//   IMAGE_URL_FUNCTION  path of the generated JavaScript (the rendition set injected)
//   IMAGE_URL_WIDTHS    JSON {"widths": [stored widths], "thumbnail": [...], "formats": [...]}
//   IMAGE_URL_CACHE_CONTROL  the browser Cache-Control S3 is asked to set (image_urls.CACHE_CONTROL)
// The expectations below are written from the rule, not from the function's own table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

const code = readFileSync(process.env.IMAGE_URL_FUNCTION, 'utf8');
const set = JSON.parse(process.env.IMAGE_URL_WIDTHS);
const CACHE_CONTROL = process.env.IMAGE_URL_CACHE_CONTROL;
// The only query string a rewrite sends to S3: response-cache-control, which S3 applies to a
// 200 only, so an error never carries the week.
const ORIGIN_QUERY = JSON.stringify({ 'response-cache-control': { value: CACHE_CONTROL } });
const WIDTHS = [...set.widths].sort((a, b) => a - b);
const LARGEST = WIDTHS[WIDTHS.length - 1];
const EXT = { avif: 'avif', webp: 'webp', jpeg: 'jpg' };
const PREFIXES = ['/products/images/thumbnails/', '/products/images/processed/'];

// A fresh context with nothing but the language: no require, no process, no timers (as at the edge).
const context = vm.createContext({});
vm.runInContext(code, context);
const handler = context.handler;

// Accept headers as these browsers send them for <img> requests.
const ACCEPT = {
  chrome: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
  edge: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
  safari17: 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
  firefox: 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
  safari14: 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5',
  safari13: 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5',
  ie11: 'image/png, image/svg+xml, image/jxr, image/*;q=0.8, */*;q=0.5',
};

function request(uri, query = {}, headers = {}) {
  const querystring = {};
  for (const [name, value] of Object.entries(query)) {
    querystring[name] = Array.isArray(value)
      ? { value: value[value.length - 1], multiValue: value.map((v) => ({ value: v })) }
      : { value };
  }
  const hs = {};
  for (const [name, value] of Object.entries(headers)) hs[name.toLowerCase()] = { value };
  return { version: '1.0', context: { eventType: 'viewer-request' },
           viewer: { ip: '198.51.100.7' }, request: { method: 'GET', uri, querystring, headers: hs } };
}

// The best format among those a browser decodes that the rendition set stores.
function best(...decodes) {
  return ['avif', 'webp'].find((f) => decodes.includes(f) && set.formats.includes(f)) ?? 'jpeg';
}
const AV = best('avif', 'webp');  // what a current browser gets

function expectedWidth(wanted) {
  return WIDTHS.find((w) => w >= wanted) ?? LARGEST;
}

function storedKey(path, width, format) {
  const prefix = set.thumbnail.includes(width) ? PREFIXES[0] : PREFIXES[1];
  return `${prefix}${path}/w${width}.${EXT[format]}`;
}

function rewrite(uri, query, headers) {
  const out = handler(request(uri, query, headers));
  assert.equal(out.statusCode, undefined, `expected a rewrite, got ${JSON.stringify(out)}`);
  assert.ok(PREFIXES.some((p) => out.uri.startsWith(p)), out.uri);
  assert.ok(!out.uri.includes('..') && !out.uri.includes('//'), out.uri);
  assert.equal(JSON.stringify(out.querystring), ORIGIN_QUERY);
  return out.uri;
}

function refused(uri, query, headers) {
  const out = handler(request(uri, query, headers));
  assert.equal(out.statusCode, 400, `expected 400 for ${uri} ${JSON.stringify(query)}: ${JSON.stringify(out)}`);
  assert.equal(out.uri, undefined);
  return out;
}

const PATH = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678/front.jpg';
const URI = `/i/${PATH}`;

test('each browser gets the best format it announces', () => {
  const expected = { chrome: AV, edge: AV, safari17: AV, firefox: AV,
                     safari14: best('webp'), safari13: 'jpeg', ie11: 'jpeg' };
  for (const [browser, accept] of Object.entries(ACCEPT)) {
    assert.equal(rewrite(URI, { w: '600' }, { Accept: accept }),
                 storedKey(PATH, expectedWidth(600), expected[browser]), browser);
  }
});

test('a wildcard, a missing Accept or q=0 never selects AVIF or WebP', () => {
  assert.equal(rewrite(URI, { w: '300' }, {}), storedKey(PATH, expectedWidth(300), 'jpeg'));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: '*/*' }), storedKey(PATH, expectedWidth(300), 'jpeg'));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: 'image/*' }), storedKey(PATH, expectedWidth(300), 'jpeg'));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: 'image/avif;q=0, image/webp' }), storedKey(PATH, expectedWidth(300), best('webp')));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: 'image/avif;q=0.0,image/webp;q=0' }), storedKey(PATH, expectedWidth(300), 'jpeg'));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: 'IMAGE/AVIF;Q=0.9' }), storedKey(PATH, expectedWidth(300), best('avif')));
  assert.equal(rewrite(URI, { w: '300' }, { Accept: 'image/avifx,image/webpp' }), storedKey(PATH, expectedWidth(300), 'jpeg'));
});

test('w alone: the smallest stored width at least w, around every stored width', () => {
  for (const stored of WIDTHS) {
    for (const w of [stored - 1, stored, stored + 1]) {
      if (w < 1) continue;
      assert.equal(rewrite(URI, { w: String(w) }, { Accept: ACCEPT.chrome }),
                   storedKey(PATH, expectedWidth(w), AV), `w=${w}`);
    }
  }
});

test('never an upscale: wider than the largest stored width gets the largest', () => {
  for (const w of [LARGEST + 1, 4096, 8192]) {
    assert.equal(rewrite(URI, { w: String(w) }, { Accept: ACCEPT.firefox }), storedKey(PATH, LARGEST, AV));
  }
  assert.equal(rewrite(URI, { w: '1' }, { Accept: ACCEPT.firefox }), storedKey(PATH, WIDTHS[0], AV));
});

test('Sec-CH-DPR (else dpr=) multiplies w, around every stored width', () => {
  for (const dpr of [1, 1.5, 2, 2.625, 3]) {
    for (const stored of WIDTHS) {
      for (const physical of [stored - 1, stored, stored + 1]) {
        const w = Math.max(1, Math.floor(physical / dpr));
        const wanted = Math.ceil(w * dpr);
        const want = storedKey(PATH, expectedWidth(wanted), AV);
        assert.equal(rewrite(URI, { w: String(w) }, { Accept: ACCEPT.chrome, 'Sec-CH-DPR': String(dpr) }), want,
                     `w=${w} Sec-CH-DPR=${dpr}`);
        assert.equal(rewrite(URI, { w: String(w), dpr: String(dpr) }, { Accept: ACCEPT.safari17 }), want,
                     `w=${w} dpr=${dpr}`);
      }
    }
  }
});

test('the header DPR wins over the dpr parameter; DPR is capped at 4', () => {
  assert.equal(rewrite(URI, { w: '300', dpr: '1' }, { 'Sec-CH-DPR': '2' }), storedKey(PATH, expectedWidth(600), 'jpeg'));
  assert.equal(rewrite(URI, { w: '300', dpr: '9' }, {}), storedKey(PATH, expectedWidth(1200), 'jpeg'));
});

test('Sec-CH-Width (physical pixels) wins over w and DPR, around every stored width', () => {
  for (const stored of WIDTHS) {
    for (const width of [stored - 1, stored, stored + 1]) {
      assert.equal(rewrite(URI, { w: '300' }, { Accept: ACCEPT.chrome, 'Sec-CH-Width': String(width), 'Sec-CH-DPR': '3' }),
                   storedKey(PATH, expectedWidth(width), AV), `Sec-CH-Width=${width}`);
    }
  }
});

test('unusable hints are ignored, never trusted', () => {
  for (const bad of ['', '0', '-600', '600px', '1e3', 'abc', '600, 900']) {
    assert.equal(rewrite(URI, { w: '300' }, { 'Sec-CH-Width': bad }), storedKey(PATH, expectedWidth(300), 'jpeg'), bad);
    assert.equal(rewrite(URI, { w: '300' }, { 'Sec-CH-DPR': bad }), storedKey(PATH, expectedWidth(300), 'jpeg'), bad);
  }
});

test('other query parameters are ignored and never reach the origin', () => {
  assert.equal(rewrite(URI, { w: '600', utm_source: '<script>alert(1)</script>', v: '../../x' }, {}),
               storedKey(PATH, expectedWidth(600), 'jpeg'));
});

test('a viewer cannot pass its own response-* parameters to S3', () => {
  // rewrite() asserts the query string is exactly ours: the viewer's values are dropped.
  assert.ok(CACHE_CONTROL && !CACHE_CONTROL.includes('immutable'), CACHE_CONTROL);
  assert.equal(rewrite(URI, { w: '600', 'response-cache-control': 'public, max-age=31536000, immutable',
                              'response-content-type': 'text/html' }, {}),
               storedKey(PATH, expectedWidth(600), 'jpeg'));
});

test('hostile paths are answered 400 and never rewritten', () => {
  const hostile = [
    '/i/', '/i', '/i//x.jpg', '/i/a//b.jpg', '/i/../original/x.jpg', '/i/a/../../original/x.jpg',
    '/i/..', '/i/.', '/i/./a.jpg', '/i/a/.hidden', '/i/a%2F..%2F..%2Foriginal%2Fx.jpg', '/i/a%2e%2e/x.jpg',
    '/i/a/b.jpg%00', '/i/a\\..\\b.jpg', '/i/a b.jpg', '/i/caf\u00e9.jpg', '/i/a/b.jpg/',
    '/i/a/b.jpg?w=600', '/i/a/b.jpg#x', '/I/a/b.jpg', '/products/images/original/a/b.jpg',
    '/products/images/processed/a/b.jpg/w600.avif', '/i/' + 'a'.repeat(2000),
    '/i/' + Array(40).fill('a').join('/'),
  ];
  for (const uri of hostile) refused(uri, { w: '600' }, { Accept: ACCEPT.chrome });
});

test('hostile or missing widths and DPRs are answered 400', () => {
  const badW = [undefined, '', '0', '-1', '1e3', '600abc', ' 600', '600.5', '0600', '8193', '99999',
                '123456789012345678901234567890', ['300', '2048']];
  for (const w of badW) refused(URI, w === undefined ? {} : { w }, { Accept: ACCEPT.chrome });
  for (const dpr of ['', 'abc', '10', '-2', '0', '0.05', '2x', ['1', '3']]) {
    refused(URI, { w: '600', dpr }, { Accept: ACCEPT.chrome });
  }
});

test('an oversized or pathological Accept falls back to JPEG, promptly', () => {
  const huge = 'text/html;q=0.1,'.repeat(4000) + 'image/avif';
  assert.equal(rewrite(URI, { w: '600' }, { Accept: huge }), storedKey(PATH, expectedWidth(600), 'jpeg'));
  const padded = 'text/plain;q=0.1,'.repeat(20) + 'image/avif';  // past 16 media ranges
  assert.equal(padded.length < 512, true);
  assert.equal(rewrite(URI, { w: '600' }, { Accept: padded }), storedKey(PATH, expectedWidth(600), 'jpeg'));
  const many = ',;='.repeat(600);
  assert.equal(rewrite(URI, { w: '600' }, { Accept: many }), storedKey(PATH, expectedWidth(600), 'jpeg'));
});

test('every stored width and format is reachable, and only those', () => {
  const seen = new Set();
  const accepts = [ACCEPT.chrome, ACCEPT.safari14, ACCEPT.ie11];
  for (let w = 1; w <= 8192; w += 7) {
    for (const accept of accepts) seen.add(rewrite(URI, { w: String(w) }, { Accept: accept }));
  }
  const all = new Set(WIDTHS.flatMap((w) => set.formats.map((f) => storedKey(PATH, w, f))));
  assert.deepEqual([...seen].sort(), [...all].sort());
});

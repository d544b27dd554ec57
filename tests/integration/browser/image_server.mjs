// A local stand-in for the CDN's /i/* behaviour: runs the real CloudFront Function file on each
// request, then answers as S3 would for the key it rewrote to, from a local folder, and applies
// the behaviour's response headers policy as CloudFront does. Also serves the storefront page,
// with the Accept-CH / Critical-CH headers docs/image-urls.md tells a storefront to send.
//
//   node image_server.mjs <function.js> <store dir> <page.html> '<policy headers JSON>' \
//        '<stored objects' Cache-Control>' '<origin query names JSON>'
//
// <policy headers JSON>: {"Name": {"value": ..., "override": bool}} (image_urls.image_url_headers).
// The policy applies to every answer, whatever its status (function 400s, S3 403s, 200s); a
// header with override false is added only where the answer has none (CloudFront's rule).
// S3: a stored object is a 200 with its Content-Type and the Cache-Control the pipeline stores
// every rendition with, unless the request asks for response-cache-control, which S3 honours on
// a 200 only; a missing key is a 403 without Cache-Control (no ListBucket). Only the query
// names the cache policy forwards (<origin query names JSON>) reach "S3".
// Prints "listening <port>" once ready; GET /log answers the /i/ requests seen since the last
// GET /log, as JSON.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import vm from 'node:vm';

const [functionFile, storeDir, pageFile, headersJson, objectCacheControl, originQueryJson] =
  process.argv.slice(2);
const context = vm.createContext({});
vm.runInContext(readFileSync(functionFile, 'utf8'), context);
const imagePolicy = JSON.parse(headersJson);
const originQuery = JSON.parse(originQueryJson);
const TYPES = { avif: 'image/avif', webp: 'image/webp', jpg: 'image/jpeg' };
const HINTS = 'Sec-CH-DPR, Sec-CH-Width';
const log = [];

// The viewer-request event CloudFront builds: lower-case header names, query string parsed.
function viewerRequest(req) {
  const url = new URL(req.url, 'http://local');
  const querystring = {};
  for (const name of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(name);
    querystring[name] = { value: values[values.length - 1], multiValue: values.map((value) => ({ value })) };
  }
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = { value: String(value) };
  return { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: req.socket.remoteAddress },
           request: { method: req.method, uri: url.pathname, querystring, headers } };
}

// S3 GetObject on <uri> with the forwarded query parameters: { status, headers, body }.
function s3Get(uri, query) {
  const path = normalize(join(storeDir, decodeURIComponent(uri)));
  let body;
  try {
    if (!path.startsWith(storeDir)) throw new Error('outside the store');
    body = readFileSync(path);
  } catch {
    return { status: 403, headers: { 'Content-Type': 'application/xml' }, body: '<Error><Code>AccessDenied</Code></Error>' };
  }
  const headers = { 'Content-Type': TYPES[path.split('.').pop()] || 'application/octet-stream',
                    'Content-Length': body.length, 'Cache-Control': objectCacheControl };
  if (query['response-cache-control']) headers['Cache-Control'] = query['response-cache-control'];
  return { status: 200, headers, body };
}

// The response headers policy: override replaces the answer's header, else only fills a gap.
function withPolicy(headers, policy) {
  const out = { ...headers };
  for (const [name, { value, override }] of Object.entries(policy)) {
    const existing = Object.keys(out).find((k) => k.toLowerCase() === name.toLowerCase());
    if (existing && !override) continue;
    if (existing) delete out[existing];
    out[name] = value;
  }
  return out;
}

function send(res, { status, headers, body }) {
  res.writeHead(status, headers).end(body);
}

createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/log') {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(log.splice(0)));
    return;
  }
  if (path === '/' || path === '/page.html') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Accept-CH': HINTS, 'Critical-CH': HINTS });
    res.end(readFileSync(pageFile));
    return;
  }
  if (path.startsWith('/i/')) {
    const out = context.handler(viewerRequest(req));
    log.push({ url: req.url, accept: req.headers.accept || null, dpr: req.headers['sec-ch-dpr'] || null,
               width: req.headers['sec-ch-width'] || null, status: out.statusCode || 200, uri: out.uri || null });
    if (out.statusCode) {
      const headers = {};
      for (const [name, h] of Object.entries(out.headers || {})) headers[name] = h.value;
      send(res, { status: out.statusCode, headers: withPolicy(headers, imagePolicy),
                  body: out.body ? out.body.data : '' });
      return;
    }
    const query = {};
    for (const [name, p] of Object.entries(out.querystring || {})) {
      if (originQuery.includes(name)) query[name] = p.value;
    }
    const answer = s3Get(out.uri, query);
    send(res, { ...answer, headers: withPolicy(answer.headers, imagePolicy) });
    return;
  }
  send(res, s3Get(path, {}));  // the direct rendition URLs, unchanged (no custom headers there)
}).listen(0, '127.0.0.1', function () {
  console.log(`listening ${this.address().port}`);
});

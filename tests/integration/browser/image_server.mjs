// A local stand-in for the CDN's /i/* behaviour: runs the real CloudFront Function file on each
// request, then serves the stored rendition it rewrote to from a local folder, with the
// response headers the behaviour's policy sets. Also serves the storefront page, with the
// Accept-CH / Critical-CH headers docs/image-urls.md tells a storefront to send.
//
//   node image_server.mjs <function.js> <store dir> <page.html> '<response headers JSON>'
// Prints "listening <port>" once ready; GET /log answers the /i/ requests seen since the last
// GET /log, as JSON.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import vm from 'node:vm';

const [functionFile, storeDir, pageFile, headersJson] = process.argv.slice(2);
const context = vm.createContext({});
vm.runInContext(readFileSync(functionFile, 'utf8'), context);
const imageHeaders = JSON.parse(headersJson);
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

function serveStored(res, uri, extra) {
  const path = normalize(join(storeDir, decodeURIComponent(uri)));
  if (!path.startsWith(storeDir)) { res.writeHead(403).end(); return; }
  let body;
  try { body = readFileSync(path); } catch { res.writeHead(403).end(); return; }  // S3 without ListBucket
  res.writeHead(200, { 'Content-Type': TYPES[path.split('.').pop()] || 'application/octet-stream',
                       'Content-Length': body.length, ...extra });
  res.end(body);
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
      res.writeHead(out.statusCode, headers).end(out.body ? out.body.data : '');
      return;
    }
    serveStored(res, out.uri, imageHeaders);
    return;
  }
  serveStored(res, path, {});  // the direct rendition URLs, unchanged
}).listen(0, '127.0.0.1', function () {
  console.log(`listening ${this.address().port}`);
});

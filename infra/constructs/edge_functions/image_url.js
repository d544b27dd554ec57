// CloudFront Function (cloudfront-js-2.0), viewer request of the /i/* behaviour: one image URL
// per original and size class, answered with the stored rendition that fits the browser.
//
//   /i/<path>?w=<css px>[&dpr=<density>]  ->  /products/images/{thumbnails,processed}/<path>/w<W>.<ext>
//
// <path> is the original's key after products/images/original/. Format: AVIF when Accept names
// image/avif, else WebP when it names image/webp, else JPEG (a wildcard never counts: old
// browsers send image/* and cannot decode either). Width: the smallest stored width >= the
// physical width wanted, which is Sec-CH-Width when the browser sends it, else w x DPR (the
// Sec-CH-DPR header, else the dpr parameter, else 1); above the largest stored width, the
// largest (never an upscale). Anything else is answered 400 here and never reaches an origin.
//
// The synth replaces __RENDITIONS__ with the pipeline's own rendition set and key layout
// (infra.constructs.image_urls.image_url_code): stored widths ascending, each with the key's
// [before <path>, after <path>] per format, and the formats in order of preference with the
// media type Accept names them by. Nothing here restates a width or a prefix.
var R = __RENDITIONS__;
// The browser Cache-Control of an /i/ answer, as S3's response-cache-control parameter: S3 sets
// it on a 200 only, so a 403 (a rendition not written yet) or a 5xx never carries it.
var CACHE_CONTROL = __CACHE_CONTROL__;
var PREFIX = '/i/';
var MAX_URI = 1024;
var MAX_WIDTH = 8192;
var MAX_DPR = 4;
// Server-chosen keys: up to 16 segments of [A-Za-z0-9._-], none empty, none starting with a
// dot (so no "..", no hidden names); "%" is not allowed, so no encoded slash, dot or NUL.
var SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
var MAX_SEGMENTS = 16;
var MAX_SEGMENT = 255;
var MAX_ACCEPT = 512;  // browsers send 60-200 characters for images
var MAX_RANGES = 16;  // Safari, the longest, sends 11 media ranges
var WIDTH = /^[1-9][0-9]{0,4}$/;
var DPR = /^[0-9](?:\.[0-9]{1,4})?$/;  // Android sends e.g. 2.625

function bad(message) {
  return {
    statusCode: 400,
    statusDescription: 'Bad Request',
    headers: {
      'content-type': { value: 'text/plain; charset=utf-8' },
      'cache-control': { value: 'no-store' }
    },
    body: { encoding: 'text', data: message + '\n' }
  };
}

// The value of one query parameter, or null; undefined when it is repeated (ambiguous).
function param(qs, name) {
  var p = qs[name];
  if (!p) return null;
  if (p.multiValue && p.multiValue.length > 1) return undefined;
  return p.value;
}

function header(headers, name) {
  var h = headers[name];
  return h ? h.value : null;
}

function validPath(path) {
  var segments = path.split('/', MAX_SEGMENTS + 1);
  if (segments.length > MAX_SEGMENTS) return false;
  for (var i = 0; i < segments.length; i++) {
    if (segments[i].length > MAX_SEGMENT || !SEGMENT.test(segments[i])) return false;
  }
  return true;
}

// The media types Accept names with q > 0, exactly (a wildcard never counts), lower-cased.
function acceptedTypes(accept) {
  var types = {};
  if (accept.length > MAX_ACCEPT) return types;  // no browser sends that much: JPEG
  var ranges = accept.toLowerCase().split(',', MAX_RANGES);
  for (var i = 0; i < ranges.length; i++) {
    var fields = ranges[i].split(';');
    var ok = true;
    for (var j = 1; j < fields.length; j++) {
      var kv = fields[j].trim().split('=');
      if (kv[0] === 'q' && !(parseFloat(kv[1]) > 0)) ok = false;
    }
    if (ok) types[fields[0].trim()] = true;
  }
  return types;
}

function dprOf(text) {
  if (text === null || text === undefined || !DPR.test(text)) return null;
  var d = parseFloat(text);
  if (d < 0.1) return null;
  return d > MAX_DPR ? MAX_DPR : d;
}

function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.length > MAX_URI || uri.indexOf(PREFIX) !== 0) return bad('not an image URL');
  var path = uri.substring(PREFIX.length);
  if (!validPath(path)) return bad('invalid image path');

  var qs = request.querystring || {};
  var w = param(qs, 'w');
  if (!w || !WIDTH.test(w) || +w > MAX_WIDTH) return bad('w must be a width in 1..' + MAX_WIDTH);
  var dprParam = param(qs, 'dpr');
  if (dprParam === undefined || (dprParam !== null && dprOf(dprParam) === null)) {
    return bad('dpr must be a number in 0.1..' + MAX_DPR);
  }

  var headers = request.headers || {};
  var wanted;
  var chWidth = header(headers, 'sec-ch-width');
  if (chWidth !== null && WIDTH.test(chWidth.trim())) {
    wanted = +chWidth.trim();  // already physical pixels (layout width x DPR)
  } else {
    var dpr = dprOf(header(headers, 'sec-ch-dpr')) || dprOf(dprParam) || 1;
    wanted = Math.ceil(+w * dpr);
  }

  var stored = R.widths[R.widths.length - 1];
  for (var i = 0; i < R.widths.length; i++) {
    if (R.widths[i].width >= wanted) { stored = R.widths[i]; break; }
  }
  var accepted = acceptedTypes(header(headers, 'accept') || '');
  var format = R.fallback;
  for (var f = 0; f < R.formats.length; f++) {
    if (accepted[R.formats[f].type] === true) { format = R.formats[f].name; break; }
  }
  var key = stored.keys[format];
  request.uri = key[0] + path + key[1];
  // The stored key is the whole identity of the response: the viewer's query string is replaced
  // (a viewer cannot pass its own response-* parameters to S3), only ours goes to the origin.
  request.querystring = { 'response-cache-control': { value: CACHE_CONTROL } };
  return request;
}

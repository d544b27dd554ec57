// CloudFront Function (cloudfront-js-2.0), viewer request of the default behaviour:
// only the public prefixes exist on this CDN; every other path is answered 404 at the edge.
// The synth replaces __PUBLIC_PREFIXES__ with a JSON array of "/<prefix>" strings.
var PUBLIC_PREFIXES = __PUBLIC_PREFIXES__;

function handler(event) {
  var uri = event.request.uri;
  if (uri.indexOf('..') === -1 && PUBLIC_PREFIXES.some(function (p) {
    return uri.startsWith(p);
  })) {
    return event.request;
  }
  return { statusCode: 404, statusDescription: 'Not Found' };
}

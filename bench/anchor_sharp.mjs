// The on-the-fly anchor's encoder: sharp (libvips) from npm, at its default settings, as AWS's
// Dynamic Image Transformation runs it per request. Driven by bench_anchor.py; prints JSON.
//
//   node anchor_sharp.mjs encode <png> <out-prefix> [<format>=<quality>...]
//       the same pixels (a PNG the benchmark resized once) as AVIF, WebP and JPEG at sharp's
//       defaults, or at the qualities given: {"<format>": {"bytes": n, "path": p}}
//   node anchor_sharp.mjs render <original> <width,width,...> <format,format,...>
//       what the anchor does for each (width, format) request on a cache miss: decode the
//       original, orient, resize (never enlarge), encode at defaults. CPU-seconds of the
//       whole set (user + system, every libvips thread): {"cpu": s, "bytes": n}
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';

const SHARP_FORMAT = { avif: 'avif', webp: 'webp', jpeg: 'jpeg' };

async function encode(png, prefix, qualities) {
  const out = {};
  for (const format of ['avif', 'webp', 'jpeg']) {
    const options = qualities[format] ? { quality: qualities[format] } : {};
    const body = await sharp(png).toFormat(SHARP_FORMAT[format], options).toBuffer();
    const path = `${prefix}.${format}`;
    writeFileSync(path, body);
    out[format] = { bytes: body.length, path };
  }
  return out;
}

async function render(original, widths, formats) {
  let bytes = 0;
  const started = process.cpuUsage();
  for (const width of widths) {
    for (const format of formats) {
      const body = await sharp(original).rotate().resize({ width, withoutEnlargement: true })
        .toFormat(SHARP_FORMAT[format]).toBuffer();
      bytes += body.length;
    }
  }
  const used = process.cpuUsage(started);
  return { cpu: (used.user + used.system) / 1e6, bytes };
}

const [mode, ...args] = process.argv.slice(2);
let result;
if (mode === 'encode') {
  const qualities = Object.fromEntries(args.slice(2).map((a) => a.split('=')).map(([f, q]) => [f, +q]));
  result = await encode(args[0], args[1], qualities);
} else if (mode === 'render') {
  result = await render(args[0], args[1].split(',').map(Number), args[2].split(','));
} else {
  console.error('usage: anchor_sharp.mjs encode|render ...');
  process.exit(2);
}
console.log(JSON.stringify({ ...result, sharp: sharp.versions.sharp }));

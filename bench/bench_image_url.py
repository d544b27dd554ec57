"""The image URL CloudFront Function under Node: time per call, typical and worst-case input.

CloudFront Functions publish their time limit only as "compute utilization" (0-100 % of an
unpublished maximum), so the figure that can be stated here is the function's cost under
Node (V8, JIT-warm, this machine) next to the deny function every other path already runs
(the baseline, same run). The function is bounded by construction: the URI is refused above
1,024 characters before any regex runs, Accept is read only up to 512 characters and 16
media ranges, and the width table has one entry per stored width. Reported, never checked
(no target is stated for it; tests/infra/test_image_urls.py asserts the size quota).

    .venv/bin/python bench/bench_image_url.py [--check] [--calls N]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TIMER = r"""
const vm = require('node:vm');
const [code, deny, calls] = [process.argv[1], process.argv[2], +process.argv[3]];
function load(source) { const c = vm.createContext({}); vm.runInContext(source, c); return c.handler; }
const image = load(code), denyHandler = load(deny);
const h = (v) => ({ value: v });
const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const cases = {
  typical: () => ({ request: { uri: '/i/0123456789abcdef0123456789abcdef01234567/front.jpg',
    querystring: { w: h('600') }, headers: { accept: h(chrome), 'sec-ch-dpr': h('2') } } }),
  worst: () => ({ request: { uri: '/i/' + Array(16).fill('a'.repeat(60)).join('/'),
    querystring: { w: h('8192'), dpr: h('3.999') },
    headers: { accept: h('text/html;q=0.1,'.repeat(32).slice(0, 511)), 'sec-ch-width': h('99999') } } }),
  refused: () => ({ request: { uri: '/i/a/../../original/' + 'x'.repeat(900), querystring: {}, headers: {} } }),
};
function time(handler, make) {
  for (let i = 0; i < 2000; i++) handler(make());  // JIT warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) handler(make());
  return Number(process.hrtime.bigint() - start) / 1000 / calls;
}
const out = { deny: time(denyHandler, () => ({ request: { uri: '/products/images/processed/a/w600.avif' } })) };
for (const [name, make] of Object.entries(cases)) out[name] = time(image, make);
console.log(JSON.stringify(out));
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="accepted for make bench-check; "
                        "nothing here is a checked target")
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args(argv)
    from infra.config import RenditionsConfig
    from infra.constructs.cdn import PUBLIC_PREFIXES, deny_non_public_code
    from infra.constructs.image_urls import MAX_FUNCTION_BYTES, image_url_code

    code = image_url_code(RenditionsConfig().settings())
    deny = deny_non_public_code(PUBLIC_PREFIXES)
    out = subprocess.run(["node", "-e", TIMER, code, deny, str(args.calls)], check=True,
                         capture_output=True, text=True).stdout
    micros = json.loads(out)
    print(f"function size {len(code.encode()):,} bytes of CloudFront Functions' "
          f"{MAX_FUNCTION_BYTES:,}")
    for name in ("typical", "worst", "refused"):
        print(f"{name:>8}: {micros[name]:6.2f} us per call under Node "
              f"({micros[name] / micros['deny']:5.1f}x the deny function's {micros['deny']:.2f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

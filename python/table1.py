"""Table 1 analogue (seed paper: secure vs non-secure accuracy at a 6% DReLU budget) for
`patchwork plot bars`: collects the last `patchwork eval --secure` result line of each run's log
(all 10,000 test images, approximate DReLU 43,5) into models/results/table1.json.

Usage:
    python python/table1.py && target/release/patchwork plot bars \\
        --in models/results/table1.json --out models/table1.png
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import SECURE_LINE  # noqa: E402

# Labels (rows of the Table 1 analogue in models/README.md): the plain model; 30 epochs from the
# plain weights with the side-8 table and with the coarse sides; planned progressively; the
# twice-as-wide plain model and its 6% spec (16 epochs); the bundled run's recipe with
# straight-through decisions and with the wide model as the teacher; the plain model with two
# blocks per stage and its 6% models (12 epochs from the plain weights, then planned again on
# that model); the bundled run's recipe with seeds 1 and 2, and with both of the sixth-session
# changes. Short labels: each variant gets about 110 pixels.
RUNS = [
    ("plain", "models/sweep/plain.log"),
    ("side 8", "models/fashion_resnet_brelu6_long.log"),
    ("coarse", "models/direct6/ks0.06.log"),
    ("10>6", "models/progressive_a/stage1.log"),
    ("bundled", "models/progressive_b/stage1.log"),
    ("20>10>6", "models/progressive_c/stage3.log"),
    ("wide", "models/wide/plain.log"),
    ("wide 6%", "models/wide/ks0.06.log"),
    ("STE", "models/ste_a/ks0.06.log"),
    ("w2 teacher", "models/kdwide_a/ks0.06.log"),
    ("deep", "models/deep/plain.log"),
    ("deep 6%", "models/deep/ks0.06.log"),
    ("deep 6>6", "models/deep/progressive6.log"),
    ("seed 1", "models/seeds/seed1.log"),
    ("seed 2", "models/seeds/seed2.log"),
    ("STE+w2", "models/ste_kdwide/seed0.log"),
]


def main():
    rows = []
    for name, log in RUNS:
        with open(log) as f:
            found = list(SECURE_LINE.finditer(f.read()))
        if not found:
            raise SystemExit(f"{log}: no secure evaluation line")
        m = found[-1]
        n = int(m["n"])
        rows.append({"name": name, "log": log, "images": n, "float_acc": int(m["float"]) / n,
                     "secure_acc": int(m["secure"]) / n, "agree": int(m["agree"])})
    out = {"title": "Table 1 analogue: 6% of the DReLUs vs the plain model", "rows": rows}
    with open("models/results/table1.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for r in rows:
        print(f"{r['name']}: float {r['float_acc']:.2%}, secure {r['secure_acc']:.2%}, agree {r['agree']}")


if __name__ == "__main__":
    main()

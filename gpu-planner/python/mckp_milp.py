#!/usr/bin/env python3
"""Independent check of the planner's knapsack: solves the seed paper's eq. 5 as a MILP with HiGHS.

Usage: mckp_milp.py TABLE.json BUDGET [TIME_LIMIT_SECONDS]

TABLE.json is a Patchwork distortion table ({"layers": [{"name", "channels", "height", "width",
"patch_sizes", "distortion"}]}); BUDGET is the DReLU budget B; TIME_LIMIT_SECONDS defaults to 1800. Prints one JSON line,
the last on stdout (HiGHS 1.16 prints a banner before it when it creates its solver):
{"status": "...", "objective": <least total distortion>, "drelus": <DReLUs of the MILP's choice>}.
Exit status 0 when HiGHS proved optimality, 1 when the model is infeasible or HiGHS failed,
2 on bad usage or input. Needs `pip install highspy numpy`.
"""

import json
import sys


def ceil_div(a, b):
    return -(-a // b)


def drelus(patch, height, width):
    ph, pw = patch
    if (ph, pw) in ((0, 1), (1, 0)):  # identity / zero channel: no DReLU
        return 0
    return ceil_div(height, ph) * ceil_div(width, pw)


def build(table, budget):
    """Column-wise MILP: one binary per (channel, patch size); one row per channel (= 1) and
    the budget row (sum of DReLUs <= budget)."""
    import numpy as np

    costs, weights, rows = [], [], []
    n_classes = 0
    for layer in table["layers"]:
        w = [drelus(p, layer["height"], layer["width"]) for p in layer["patch_sizes"]]
        for row in layer["distortion"]:
            if len(row) != len(w):
                raise ValueError(f"layer {layer['name']}: row length {len(row)} != {len(w)}")
            for wj, dj in zip(w, row):
                costs.append(float(dj))
                weights.append(wj)
                rows.append(n_classes)
            n_classes += 1
    budget_row = n_classes
    start, index, value = [0], [], []
    for r, wj in zip(rows, weights):
        index.append(r)
        value.append(1.0)
        if wj:
            index.append(budget_row)
            value.append(float(wj))
        start.append(len(index))
    return (
        np.array(costs, dtype=np.float64),
        n_classes,
        np.array(start, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value, dtype=np.float64),
        np.array(weights, dtype=np.int64),
    )


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import highspy
        import numpy as np
    except ImportError as e:
        print(f"mckp_milp.py: {e} (pip install highspy numpy)", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            table = json.load(f)
        budget = int(argv[2])
        time_limit = float(argv[3]) if len(argv) == 4 else 1800.0
        costs, n_classes, start, index, value, weights = build(table, budget)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"mckp_milp.py: bad input: {e}", file=sys.stderr)
        return 2

    n = len(costs)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = n_classes + 1
    lp.col_cost_ = costs
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.array([1.0] * n_classes + [-highspy.kHighsInf])
    lp.row_upper_ = np.array([1.0] * n_classes + [float(budget)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.setOptionValue("time_limit", time_limit)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        print(json.dumps({"status": h.modelStatusToString(status)}))
        return 1
    x = np.round(np.array(h.getSolution().col_value))
    print(
        json.dumps(
            {
                "status": "optimal",
                "objective": float(np.dot(costs, x)),
                "drelus": int(np.dot(weights, x)),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

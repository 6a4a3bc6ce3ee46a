#!/usr/bin/env python3
"""Optuna's samplers replayed over a tabular benchmark, the peer of `npm run bench -- search`.

The table comes from bench/search.ts as JSON: the units of the design space with their
option labels, and every design with its option per unit, MACs, and the accuracy recorded
for each seed at full fidelity. Each replay (seeds 0..replays-1) runs one Optuna study
over two objectives, accuracy (maximised) and MACs (minimised), with one categorical
parameter per unit; a trial's accuracy is one recorded seed of the design, drawn with the
replay's seed, as dsxplore's replay draws it. Optuna treats both objectives as black
boxes, as it would in a real study. A design proposed again is answered again and counts
as another training: Optuna would train it again.

A replay stops once the designs evaluated so far reach the target share of the table's
true-front hypervolume (the bench computes the figures itself from the order printed), or
after --trials trials. Prints one JSON line per replay: {"seed": s, "order": [hash, ...]}.

    bench/peer/.venv/bin/python bench/peer/optuna_search.py --table T.json --sampler tpe --replays 30
"""
import argparse
import json
import random
import sys

try:
    import optuna
except ImportError:
    sys.stderr.write(
        "optuna is not installed; see bench/peer/README.md "
        "(python3 -m venv bench/peer/.venv && bench/peer/.venv/bin/pip install optuna)\n"
    )
    sys.exit(3)


def hypervolume(points, ref):
    """Normalised 2-D hypervolume of (accuracy, macs) points against the reference point
    (the table's worst accuracy, its largest MACs): (accuracy - ref) x (1 - macs/ref)."""
    ref_acc, ref_macs = ref["accuracy"], ref["macs"]
    pts = sorted((m / ref_macs, ref_acc - a) for a, m in points if a > ref_acc and m < ref_macs)
    area, best = 0.0, 0.0
    stairs = []
    for x, y in pts:
        if y < best:
            stairs.append((x, y))
            best = y
    for i, (x, y) in enumerate(stairs):
        nx = stairs[i + 1][0] if i + 1 < len(stairs) else 1.0
        area += (nx - x) * (-y)
    return area


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--sampler", choices=["nsga2", "tpe"], required=True)
    ap.add_argument("--replays", type=int, default=30)
    ap.add_argument("--trials", type=int, default=400)
    args = ap.parse_args()
    with open(args.table) as f:
        table = json.load(f)
    units = table["units"]
    by_options = {tuple(d["options"]): d for d in table["designs"]}
    target = table["target"] * table["frontHv"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    for seed in range(args.replays):
        if args.sampler == "nsga2":
            sampler = optuna.samplers.NSGAIISampler(seed=seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        draw = random.Random(seed)
        order = []
        seen = {}

        def objective(trial):
            opts = tuple(trial.suggest_categorical(u["name"], u["options"]) for u in units)
            d = by_options.get(opts)
            if d is None:
                raise optuna.TrialPruned()  # not in the table (a constrained space)
            order.append(d["hash"])
            seen[d["hash"]] = (d["truth"], d["macs"])
            return draw.choice(d["seeds"]), d["macs"]

        def stop(study_, _trial):
            if hypervolume(seen.values(), table["reference"]) >= target - 1e-12:
                study_.stop()

        study.optimize(objective, n_trials=args.trials, callbacks=[stop])
        sys.stdout.write(json.dumps({"seed": seed, "order": order}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

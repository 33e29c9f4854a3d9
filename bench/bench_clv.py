"""Benchmark our CLV maximum-likelihood fits against the lifetimes library.

    python bench/bench_clv.py --customers 23570      # CDNOW master as is
    python bench/bench_clv.py --customers 1000000    # CDNOW customers resampled (seed 20240101)
    python bench/bench_clv.py --data cj --customers 100000   # Complete Journey, days, cohorts

Data ``cdnow``: CDNOW master (../shared/data/cdnow/CDNOW_master.txt.gz), calibration
1997-01-01..1997-09-30, weeks. Above 23,570 customers we resample whole customer histories with
replacement (fixed seed), so the population (and the MLE) stays that of CDNOW: at most 8,685
distinct (x, t_x, T) rows, whatever the size.

Data ``cdnow-days`` and ``cj``: in days, each customer drawn with replacement (CDNOW master's
customers; the Complete Journey baskets of 300 households, 2017) with the whole history shifted
by a random 0-364 days, so customers are acquired over a year in many cohorts and the histories
are mostly distinct: collapsing them gains little. Calibration ends 1998-09-30 (CDNOW) and
2018-06-30 (Complete Journey).

Ours = collapse to distinct rows, then fit with weights (both times shown). The peer is lifetimes
run in a subprocess with the peer venv bench/.venv-peers (``make -C bench peers``):
``--peer-mode weights`` (default) gives it the same collapsed rows with ``weights=`` (as its
users fit at scale): its fit time, and that plus the pandas ``groupby`` its users would run to
get those rows (timed in the peer on the per-customer arrays), against ours fit to fit and
collapse+fit to groupby+fit. ``--peer-mode rows`` gives it the per-customer arrays.
``--blas one`` runs both sides with one BLAS thread (our default, ADR 0921;
OPENBLAS_NUM_THREADS=1 for the peer), ``--blas default`` with the libraries' default.
Writes a markdown table to stdout and to bench/out/clv-PEER.md,
and the full-precision figures (parameters, log-likelihoods, gradient norms at both sides'
parameters) to bench/out/clv-PEER-N.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from patron.analytics.clv import (  # noqa: E402
    BGNBD,
    GammaGamma,
    ParetoNBD,
    _base,
    collapse_rfm,
    rfm_summary,
)

PEER_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"
# peer name -> (its venv's python, the script run there, the column title)
PEERS = {
    "lifetimes": (PEER_PYTHON, "_peer_lifetimes.py", "lifetimes"),
    "pymc": (
        ROOT / "bench" / ".venv-pymc" / "bin" / "python",
        "_peer_pymc.py",
        "PyMC-Marketing MAP",
    ),
}
NAMES = {"bgnbd": "BG/NBD", "pnbd": "Pareto/NBD", "gg": "Gamma-Gamma"}


def data_path(name: str = "cdnow/CDNOW_master.txt.gz") -> Path:
    """A shared data file beside the repo (or beside its grandparent, for a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "data" / name
        if path.exists():
            return path
    raise SystemExit(f"{name} not found in ../shared/data")


def master_path() -> Path:
    return data_path()


def load_summary(n_customers: int, seed: int) -> pd.DataFrame:
    """RFM summary (weeks) of CDNOW master, resampled to ``n_customers`` if larger."""
    raw = pd.read_csv(master_path(), sep=r"\s+", dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    s = rfm_summary(raw, "customer_id", "date", "dollar_value", "1997-09-30", freq="W")
    if n_customers == len(s):
        return s.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    return s.iloc[rng.integers(0, len(s), n_customers)].reset_index(drop=True)


def _shifted(raw: pd.DataFrame, n_customers: int, seed: int, cal_end: str) -> pd.DataFrame:
    """RFM summary (days) of ``n_customers`` drawn with replacement from ``raw`` (columns
    ``customer, day, value``), each whole history shifted by a random 0-364 days: customers
    acquired over a year, so the histories are mostly distinct."""
    per_customer = dict(list(raw.groupby("customer")[["day", "value"]]))
    keys = sorted(per_customer)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), n_customers)
    shifts = rng.integers(0, 365, n_customers)
    chosen = [per_customer[keys[i]] for i in picks]
    sizes = np.array([len(c) for c in chosen])
    days = np.concatenate([c["day"].to_numpy() for c in chosen])
    days = days + np.repeat(shifts, sizes).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "customer": np.repeat(np.arange(n_customers), sizes),
            "date": days,
            "value": np.concatenate([c["value"].to_numpy() for c in chosen]),
        }
    )
    s = rfm_summary(frame, "customer", "date", "value", cal_end, freq="D")
    return s.reset_index(drop=True)


def load_cj(n_customers: int, seed: int) -> pd.DataFrame:
    """Complete Journey households (2017 baskets), shifted into cohorts; calibration ends
    2018-06-30."""
    raw = pd.read_csv(data_path("completejourney/cj_baskets_300hh.csv.gz"))
    raw = pd.DataFrame(
        {
            "customer": raw["household_id"],
            "day": pd.to_datetime(raw["ts"]).dt.normalize(),
            "value": raw["sales_value"],
        }
    )
    return _shifted(raw, n_customers, seed, "2018-06-30")


def load_cdnow_days(n_customers: int, seed: int) -> pd.DataFrame:
    """CDNOW master customers in days, shifted into cohorts over a year; calibration ends
    1998-09-30 (39 weeks after the last possible first purchase)."""
    raw = pd.read_csv(master_path(), sep=r"\s+", dtype={"date": str})
    raw = pd.DataFrame(
        {
            "customer": raw["customer_id"],
            "day": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "value": raw["dollar_value"],
        }
    )
    return _shifted(raw, n_customers, seed, "1998-09-30")


def gg_rows(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (x, monetary) pairs of repeat customers and their counts."""
    rep = s[(s["x"] > 0) & (s["monetary"] > 0)]
    keys = np.column_stack((rep["x"].to_numpy(), rep["monetary"].to_numpy()))
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    return uniq[:, 0], uniq[:, 1], counts.astype(np.float64)


def ours(s: pd.DataFrame, repeat: int = 3) -> dict[str, dict[str, Any]]:
    """Time our fits: collapse to distinct rows, then fit (weights); best of ``repeat``."""
    out: dict[str, dict[str, Any]] = {}
    for name in ("bgnbd", "pnbd", "gg"):
        best: dict[str, Any] = {}
        for _ in range(repeat):
            start = time.perf_counter()
            if name == "gg":
                gx, gm, gw = gg_rows(s)
                n_rows = len(gx)
            else:
                rows = collapse_rfm(s["x"], s["t_x"], s["T"])
                n_rows = rows.n_rows
            collapsed = time.perf_counter()
            if name == "gg":
                model: Any = GammaGamma()
                res = model.fit(gx, gm, gw)
            else:
                model = BGNBD() if name == "bgnbd" else ParetoNBD()
                res = model.fit(rows.x, rows.t_x, rows.T, rows.weights)
            done = time.perf_counter()
            if not best or done - start < best["seconds"]:
                best = {
                    "seconds": done - start,
                    "fit_seconds": done - collapsed,
                    "params": res.params,
                    "ll": res.log_likelihood,
                    "rows": n_rows,
                    "model": model,
                }
        out[name] = best
    return out


def peers(
    s: pd.DataFrame,
    models: list[str],
    timeout: float,
    peer: str = "lifetimes",
    extra: tuple[str, ...] = (),
    one_blas_thread: bool = False,
) -> dict[str, Any]:
    """Run the peer library in its venv; {} if that venv is missing. With ``weights`` in
    ``extra`` the peer gets the collapsed rows and their counts instead of one row a customer."""
    python, script, _title = PEERS[peer]
    if not python.exists():
        print(f"peer venv missing ({python}); see bench/Makefile", file=sys.stderr)
        return {}
    env = dict(os.environ)
    if one_blas_thread:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rfm.npz"
        arrays = {k: s[k].to_numpy() for k in ("x", "t_x", "T", "monetary")}
        rows = collapse_rfm(s["x"], s["t_x"], s["T"])
        gx, gm, gw = gg_rows(s)
        arrays.update(cx=rows.x, ct_x=rows.t_x, cT=rows.T, cw=rows.weights, gx=gx, gm=gm, gw=gw)
        np.savez(path, **arrays)
        results: dict[str, Any] = {}
        for name in models:
            cmd = [str(python), str(ROOT / "bench" / script), str(path), name, *extra]
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=timeout, check=True, env=env
                )
                results.update(json.loads(done.stdout))
            except subprocess.TimeoutExpired:
                results[name] = {"timeout": timeout}
            except subprocess.CalledProcessError as err:
                results[name] = {"error": err.stderr.strip().splitlines()[-1:]}
    return results


def ll_grad(
    name: str, info: dict[str, Any], params: dict[str, float], s: pd.DataFrame
) -> tuple[float, float]:
    """Our total log-likelihood and the Euclidean norm of its gradient in the natural parameters
    at ``params`` (ours or a peer's, with the peer's names), so both sides use one function."""
    model = info["model"]
    rename = {"gamma": "v"}
    if name == "gg":
        rep = s[(s["x"] > 0) & (s["monetary"] > 0)]
        p = [params.get(k, params.get(rename.get(k, k))) for k in model.param_names]
        ll, grad = model.loglik_and_gradient(p, rep["x"], rep["monetary"])
    else:
        rows = collapse_rfm(s["x"], s["t_x"], s["T"])
        p = [params[k] for k in model.param_names]
        ll, grad = model.loglik_and_gradient(p, rows.x, rows.t_x, rows.T, rows.weights)
    return float(ll), float(np.linalg.norm(grad))


def table(
    s: pd.DataFrame,
    mine: dict[str, Any],
    theirs: dict[str, Any],
    title: str = "lifetimes",
    record: dict[str, Any] | None = None,
) -> str:
    """Markdown table of times, speed-ups, parameter differences, both LLs and gradient norms.

    ``|grad|`` is the Euclidean norm of the gradient of the total log-likelihood in the natural
    parameters, evaluated with our (analytic) gradient at each side's parameters. ``record``, if
    given, receives the full-precision figures.
    """
    lines = [
        f"Customers: {len(s):,}; distinct (x, t_x, T) rows: "
        f"{collapse_rfm(s['x'], s['t_x'], s['T']).n_rows:,}",
        "",
        f"| model | distinct rows | ours collapse+fit (s) | ours fit (s) | {title} fit (s) "
        f"| {title} groupby+fit (s) | speed-up (collapse+fit) | speed-up (fit) "
        "| max rel. param diff "
        f"| LL ours | LL {title} | LL diff | \\|grad\\| ours | \\|grad\\| {title} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rename = {"gamma": "v"}
    for name, info in mine.items():
        peer = theirs.get(name, {})
        ll_ours, grad_ours = ll_grad(name, info, info["params"], s)
        entry: dict[str, Any] = {
            "seconds": info["seconds"],
            "fit_seconds": info["fit_seconds"],
            "params": info["params"],
            "ll": ll_ours,
            "grad_norm": grad_ours,
        }
        if "seconds" in peer:
            tp = peer["params"]
            diffs = {
                k: abs(info["params"][k] - tp[rename.get(k, k)]) / abs(info["params"][k])
                for k in info["params"]
            }
            ll_peer, grad_peer = ll_grad(name, info, tp, s)
            entry["peer"] = {
                "seconds": peer["seconds"],
                "collapse_seconds": peer.get("collapse_seconds"),
                "params": tp,
                "ll": ll_peer,
                "grad_norm": grad_peer,
                "rel_diff": diffs,
            }
            whole = peer["seconds"] + peer.get("collapse_seconds", 0.0)
            cells = [
                f"{peer['seconds']:.3f} | {whole:.3f}",
                f"{whole / info['seconds']:.1f}x | {peer['seconds'] / info['fit_seconds']:.1f}x",
                f"{max(diffs.values()):.1e}",
                f"{ll_peer:.3f}",
                f"{ll_peer - ll_ours:.1e}",
                f"{grad_peer:.2g}",
            ]
        else:
            why = f"timeout {peer['timeout']:.0f}s" if "timeout" in peer else "n/a"
            why = f"error: {peer['error']}" if "error" in peer else why
            cells = [f"{why} | ", " | ", "", "", "", ""]
        if record is not None:
            record[name] = entry
        lines.append(
            f"| {NAMES[name]} | {info['rows']:,} | {info['seconds']:.3f} "
            f"| {info['fit_seconds']:.3f} | {cells[0]} | {cells[1]} "
            f"| {cells[2]} | {ll_ours:.3f} | {cells[3]} | {cells[4]} | {grad_ours:.1e} "
            f"| {cells[5]} |"
        )
    return "\n".join(lines)


LOADERS = {"cdnow": load_summary, "cdnow-days": load_cdnow_days, "cj": load_cj}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=23570)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--models", default="bgnbd,pnbd,gg")
    parser.add_argument("--peer-timeout", type=float, default=3600.0)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peer", choices=sorted(PEERS), default="lifetimes")
    parser.add_argument(
        "--peer-tight",
        action="store_true",
        help="PyMC only: run find_MAP's L-BFGS-B to rounding-level tolerances (not its defaults)",
    )
    parser.add_argument(
        "--peer-result",
        type=Path,
        help="reuse the peer's JSON output saved from an earlier run on the same data "
        "(the peer's script prints it) instead of running the peer again",
    )
    parser.add_argument("--data", choices=sorted(LOADERS), default="cdnow")
    parser.add_argument(
        "--peer-mode",
        choices=("weights", "rows"),
        default="weights",
        help="lifetimes given the collapsed rows with weights (default) or one row a customer",
    )
    parser.add_argument(
        "--blas",
        choices=("one", "default"),
        default="one",
        help="one BLAS thread on both sides (our default) or the libraries' default threads",
    )
    parser.add_argument("--repeat", type=int, default=3, help="our fits: best of N")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    _base.BLAS_THREADS = 1 if args.blas == "one" else None
    s = LOADERS[args.data](args.customers, args.seed)
    mine = {k: v for k, v in ours(s, args.repeat).items() if k in args.models.split(",")}
    if args.peer_result is not None:
        theirs: dict[str, Any] = json.loads(args.peer_result.read_text())
    elif args.no_peers:
        theirs = {}
    else:
        extra: tuple[str, ...] = ("tight",) if args.peer_tight else ()
        if args.peer == "lifetimes" and args.peer_mode == "weights":
            extra = ("weights",)
        theirs = peers(s, list(mine), args.peer_timeout, args.peer, extra, args.blas == "one")
    record: dict[str, Any] = {}
    text = table(s, mine, theirs, PEERS[args.peer][2], record)
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    header = (
        f"data {args.data}, peer mode {args.peer_mode}, BLAS threads {args.blas}, "
        f"load average at start {load_at_start:.2f}\n\n"
    )
    text = header + text
    (out / f"clv-{args.peer}.md").write_text(text + "\n")
    stem = (
        f"clv-{args.peer}{'-tight' if args.peer_tight else ''}-{args.data}-{args.peer_mode}"
        f"-{args.blas}-{args.customers}"
    )
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()

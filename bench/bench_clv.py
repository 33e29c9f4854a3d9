"""Benchmark our CLV maximum-likelihood fits against the lifetimes library.

    python bench/bench_clv.py --customers 23570      # CDNOW master as is
    python bench/bench_clv.py --customers 1000000    # CDNOW customers resampled (seed 20240101)

Data: CDNOW master (../shared/data/cdnow/CDNOW_master.txt.gz), calibration 1997-01-01..1997-09-30,
weeks. Above 23,570 customers we resample whole customer histories with replacement (fixed seed),
so the population (and the MLE) stays that of CDNOW. Our time = collapse to distinct rows + fit;
lifetimes' time = its ``.fit`` on the per-customer arrays (as its docs use it), run in a subprocess
with the peer venv bench/.venv-peers (``make -C bench peers``). Writes a markdown table to stdout
and to bench/out/clv-PEER.md, and the full-precision figures (parameters, log-likelihoods,
gradient norms at both sides' parameters) to bench/out/clv-PEER-N.json.
"""

from __future__ import annotations

import argparse
import json
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

from patron.analytics.clv import BGNBD, GammaGamma, ParetoNBD, collapse_rfm, rfm_summary  # noqa: E402

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


def master_path() -> Path:
    """CDNOW master beside the repo (or beside its grandparent, for a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "data" / "cdnow" / "CDNOW_master.txt.gz"
        if path.exists():
            return path
    raise SystemExit("CDNOW_master.txt.gz not found in ../shared/data/cdnow")


def load_summary(n_customers: int, seed: int) -> pd.DataFrame:
    """RFM summary (weeks) of CDNOW master, resampled to ``n_customers`` if larger."""
    raw = pd.read_csv(master_path(), sep=r"\s+", dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    s = rfm_summary(raw, "customer_id", "date", "dollar_value", "1997-09-30", freq="W")
    if n_customers == len(s):
        return s.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    return s.iloc[rng.integers(0, len(s), n_customers)].reset_index(drop=True)


def ours(s: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Time our fits: collapse to distinct rows + fit (weights)."""
    out: dict[str, dict[str, Any]] = {}
    for name, cls in (("bgnbd", BGNBD), ("pnbd", ParetoNBD)):
        start = time.perf_counter()
        rows = collapse_rfm(s["x"], s["t_x"], s["T"])
        model = cls()
        res = model.fit(rows.x, rows.t_x, rows.T, rows.weights)
        out[name] = {
            "seconds": time.perf_counter() - start,
            "params": res.params,
            "ll": res.log_likelihood,
            "rows": rows.n_rows,
            "model": model,
        }
    start = time.perf_counter()
    rep = s[(s["x"] > 0) & (s["monetary"] > 0)]
    keys = np.column_stack((rep["x"].to_numpy(), rep["monetary"].to_numpy()))
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    gg = GammaGamma()
    res = gg.fit(uniq[:, 0], uniq[:, 1], counts)
    out["gg"] = {
        "seconds": time.perf_counter() - start,
        "params": res.params,
        "ll": res.log_likelihood,
        "rows": len(uniq),
        "model": gg,
    }
    return out


def peers(
    s: pd.DataFrame,
    models: list[str],
    timeout: float,
    peer: str = "lifetimes",
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the peer library in its venv; {} if that venv is missing."""
    python, script, _title = PEERS[peer]
    if not python.exists():
        print(f"peer venv missing ({python}); see bench/Makefile", file=sys.stderr)
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rfm.npz"
        np.savez(path, **{k: s[k].to_numpy() for k in ("x", "t_x", "T", "monetary")})
        results: dict[str, Any] = {}
        for name in models:
            cmd = [str(python), str(ROOT / "bench" / script), str(path), name, *extra]
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=timeout, check=True
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
        f"Customers: {len(s):,}",
        "",
        f"| model | distinct rows | ours (s) | {title} (s) | speed-up | max rel. param diff "
        f"| LL ours | LL {title} | LL diff | \\|grad\\| ours | \\|grad\\| {title} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rename = {"gamma": "v"}
    for name, info in mine.items():
        peer = theirs.get(name, {})
        ll_ours, grad_ours = ll_grad(name, info, info["params"], s)
        entry: dict[str, Any] = {
            "seconds": info["seconds"],
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
                "params": tp,
                "ll": ll_peer,
                "grad_norm": grad_peer,
                "rel_diff": diffs,
            }
            cells = [
                f"{peer['seconds']:.2f}",
                f"{peer['seconds'] / info['seconds']:.0f}x",
                f"{max(diffs.values()):.1e}",
                f"{ll_peer:.3f}",
                f"{ll_peer - ll_ours:.1e}",
                f"{grad_peer:.2g}",
            ]
        else:
            why = f"timeout {peer['timeout']:.0f}s" if "timeout" in peer else "n/a"
            why = f"error: {peer['error']}" if "error" in peer else why
            cells = [why, "", "", "", "", ""]
        if record is not None:
            record[name] = entry
        lines.append(
            f"| {NAMES[name]} | {info['rows']:,} | {info['seconds']:.3f} | {cells[0]} | {cells[1]} "
            f"| {cells[2]} | {ll_ours:.3f} | {cells[3]} | {cells[4]} | {grad_ours:.1e} "
            f"| {cells[5]} |"
        )
    return "\n".join(lines)


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
    args = parser.parse_args()
    s = load_summary(args.customers, args.seed)
    mine = {k: v for k, v in ours(s).items() if k in args.models.split(",")}
    if args.peer_result is not None:
        theirs: dict[str, Any] = json.loads(args.peer_result.read_text())
    elif args.no_peers:
        theirs = {}
    else:
        extra = ("tight",) if args.peer_tight else ()
        theirs = peers(s, list(mine), args.peer_timeout, args.peer, extra)
    record: dict[str, Any] = {}
    text = table(s, mine, theirs, PEERS[args.peer][2], record)
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"clv-{args.peer}.md").write_text(text + "\n")
    stem = f"clv-{args.peer}{'-tight' if args.peer_tight else ''}-{args.customers}"
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()

"""Peer side of bench_clv.py: fit lifetimes' models; run with bench/.venv-peers/bin/python.

Usage: _peer_lifetimes.py DATA.npz MODELS(comma list) [weights] -> JSON on stdout. Times only
``.fit``. With ``weights`` the fits get the collapsed rows (``cx, ct_x, cT`` and ``gx, gm``) and
their counts as ``weights=`` (lifetimes' own way of fitting many customers), else one row a
customer.
"""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

warnings.simplefilter("ignore")


def main() -> None:
    data = np.load(sys.argv[1])
    models = sys.argv[2].split(",")
    weighted = sys.argv[3:] == ["weights"]
    x, t_x, T, m = (pd.Series(data[k]) for k in ("x", "t_x", "T", "monetary"))
    cx, ct_x, cT, cw = (pd.Series(data[k]) for k in ("cx", "ct_x", "cT", "cw"))
    gx, gm, gw = (pd.Series(data[k]) for k in ("gx", "gm", "gw"))
    out = {}
    for name in models:
        np.random.seed(0)  # ParetoNBDFitter starts from random values
        kwargs = {}
        if name in ("bgnbd", "pnbd"):
            fitter = BetaGeoFitter() if name == "bgnbd" else ParetoNBDFitter()
            args = (cx, ct_x, cT) if weighted else (x, t_x, T)
            if weighted:
                kwargs["weights"] = cw
        else:
            fitter = GammaGammaFitter()
            keep = (x > 0) & (m > 0)
            args = (gx, gm) if weighted else (x[keep], m[keep])
            if weighted:
                kwargs["weights"] = gw
        start = time.perf_counter()
        fitter.fit(*args, **kwargs)
        elapsed = time.perf_counter() - start
        out[name] = {"seconds": elapsed, "params": {k: float(v) for k, v in fitter.params_.items()}}
        if weighted:  # what its users run first: one pandas groupby to the distinct rows
            start = time.perf_counter()
            if name == "gg":
                keep = (x > 0) & (m > 0)
                frame = pd.DataFrame({"x": x[keep], "m": m[keep]})
                frame.groupby(["x", "m"]).size().reset_index()
            else:
                frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T})
                frame.groupby(["x", "t_x", "T"]).size().reset_index()
            out[name]["collapse_seconds"] = time.perf_counter() - start
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

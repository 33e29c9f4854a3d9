"""Peer side of bench_clv.py: fit lifetimes' models; run with bench/.venv-peers/bin/python.

Usage: _peer_lifetimes.py DATA.npz MODELS(comma list) -> JSON on stdout. Times only ``.fit``.
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
    x, t_x, T, m = (pd.Series(data[k]) for k in ("x", "t_x", "T", "monetary"))
    out = {}
    for name in models:
        np.random.seed(0)  # ParetoNBDFitter starts from random values
        if name == "bgnbd":
            fitter, args = BetaGeoFitter(), (x, t_x, T)
        elif name == "pnbd":
            fitter, args = ParetoNBDFitter(), (x, t_x, T)
        else:
            keep = (x > 0) & (m > 0)
            fitter, args = GammaGammaFitter(), (x[keep], m[keep])
        start = time.perf_counter()
        fitter.fit(*args)
        elapsed = time.perf_counter() - start
        out[name] = {"seconds": elapsed, "params": {k: float(v) for k, v in fitter.params_.items()}}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

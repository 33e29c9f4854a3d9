"""Peer side of bench_clv.py: PyMC-Marketing's maximum-a-posteriori fits with flat priors.

Run with a venv holding pymc-marketing (bench/peers-pymc-requirements.txt; ``make -C bench
peers-pymc``). Usage: _peer_pymc.py DATA.npz MODEL [tight] -> JSON on stdout. ``tight`` passes
scipy's L-BFGS-B tolerances down to rounding level (``ftol`` 1e-15, ``gtol`` 1e-10) through
``find_MAP``: by default PyMC stops on a relative change of the objective of ~2e-9 (scipy's
``ftol``), which on a log-likelihood of 4e6 is 0.009 — short of the optimum on a flat ridge.
The time covers building the model, compiling it (PyTensor's C backend) and
``fit(method="map")``. Flat priors on the positive parameters (HalfFlat) make the MAP the
maximum-likelihood estimate: PyMC's find_MAP optimises the log-density without the Jacobian of
the log transform.
"""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel

warnings.simplefilter("ignore")
PARAMS = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pnbd": ("r", "alpha", "s", "beta"),
    "gg": ("p", "q", "v"),
}


def main() -> None:
    data = np.load(sys.argv[1])
    name = sys.argv[2]
    x, t_x, T, m = (data[k] for k in ("x", "t_x", "T", "monetary"))
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(len(x)),
            "frequency": x,
            "recency": t_x,
            "T": T,
            "monetary_value": m,
        }
    )
    flat = {p: Prior("HalfFlat") for p in PARAMS[name]}
    start = time.perf_counter()
    if name == "bgnbd":
        model = BetaGeoModel(frame[["customer_id", "frequency", "recency", "T"]], model_config=flat)
    elif name == "pnbd":
        model = ParetoNBDModel(
            frame[["customer_id", "frequency", "recency", "T"]], model_config=flat
        )
    else:
        keep = frame[(frame.frequency > 0) & (frame.monetary_value > 0)]
        model = GammaGammaModel(
            keep[["customer_id", "frequency", "monetary_value"]], model_config=flat
        )
    tight = len(sys.argv) > 3 and sys.argv[3] == "tight"
    options = {"options": {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20000}} if tight else {}
    model.fit(method="map", progressbar=False, maxeval=50000 if tight else 5000, **options)
    elapsed = time.perf_counter() - start
    post = model.idata.posterior
    params = {p: float(np.asarray(post[p]).ravel()[0]) for p in PARAMS[name]}
    json.dump({name: {"seconds": elapsed, "params": params}}, sys.stdout)


if __name__ == "__main__":
    main()

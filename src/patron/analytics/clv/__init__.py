"""Buy-till-you-die customer lifetime value models fitted by maximum likelihood.

Transaction models: :class:`BGNBD`, :class:`ParetoNBD`, :class:`MBGNBD`; spend model:
:class:`GammaGamma`. Start from :func:`rfm_summary` (transactions -> x, t_x, T, monetary), then
:func:`fit_model` or, in one step, :func:`clv_from_transactions`. See docs/analytics-clv.md.
"""

from ._base import FitResult, TransactionModel
from .api import MODEL_NAMES, clv_from_transactions, fit_model
from .bgnbd import BGNBD
from .gamma_gamma import GammaGamma
from .mbgnbd import MBGNBD
from .pnbd import ParetoNBD
from .summary import CollapsedRFM, collapse_rfm, rfm_summary
from .validate import holdout_validation

__all__ = [
    "BGNBD",
    "MBGNBD",
    "MODEL_NAMES",
    "CollapsedRFM",
    "FitResult",
    "GammaGamma",
    "ParetoNBD",
    "TransactionModel",
    "clv_from_transactions",
    "collapse_rfm",
    "fit_model",
    "holdout_validation",
    "rfm_summary",
]

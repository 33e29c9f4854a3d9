"""Every table module, imported in one place so the metadata (and Alembic) sees them all.

One line per module: add yours here.
"""

import patron.analytics.models
import patron.core.events
import patron.core.merchant_cache
import patron.coupons.models
import patron.engagement.campaigns.models
import patron.engagement.journeys.models
import patron.engagement.models
import patron.engagement.segments.models
import patron.imports.models
import patron.ledger.models
import patron.members.models
import patron.orders.models
import patron.payments.models
import patron.portal.models
import patron.privacy.models
import patron.programs.models
import patron.rewards.models
import patron.tenancy.models
import patron.voice.models
import patron.wallet.models
import patron.webhooks.models  # noqa: F401
from patron.core.db import Base

__all__ = ["Base"]

"""Every domain's member-merge hook, registered by importing it (ADR 0370).

:func:`patron.members.merge.merge_members` imports this module when it runs, so a merge made
from the API, the CLI, an import or a test always moves the rows of every domain. A new domain
with member rows adds its hook module here.
"""

from __future__ import annotations

import patron.coupons.merge
import patron.engagement.merge
import patron.ledger.merge
import patron.programs.merge  # noqa: F401

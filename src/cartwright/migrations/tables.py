"""Imports every module's tables so `metadata` is complete (Alembic, schema checks)."""

from cartwright.access import models as _access  # noqa: F401
from cartwright.audit import models as _audit  # noqa: F401
from cartwright.cart import models as _cart  # noqa: F401
from cartwright.catalog import models as _catalog  # noqa: F401
from cartwright.channels import models as _channels  # noqa: F401
from cartwright.checkout import models as _checkout  # noqa: F401
from cartwright.customers import models as _customers  # noqa: F401
from cartwright.events import models as _events  # noqa: F401
from cartwright.flags import models as _flags  # noqa: F401
from cartwright.idempotency import models as _idempotency  # noqa: F401
from cartwright.inventory import models as _inventory  # noqa: F401
from cartwright.kit.schema import metadata
from cartwright.ledger import models as _ledger  # noqa: F401
from cartwright.notifications import models as _notifications  # noqa: F401
from cartwright.orders import models as _orders  # noqa: F401
from cartwright.payments import models as _payments  # noqa: F401
from cartwright.promotions import models as _promotions  # noqa: F401
from cartwright.reconciliation import models as _reconciliation  # noqa: F401
from cartwright.risk import models as _risk  # noqa: F401
from cartwright.webhooks import models as _webhooks  # noqa: F401

__all__ = ["metadata"]

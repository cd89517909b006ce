"""The customer tests' servers (configured with the test identity provider's JWKS), for the
authorization matrix."""

from tests.customers.conftest import (  # noqa: F401 (fixtures re-exported)
    cserver,
    customers_pg_server,
    customers_sqlite_server,
    idp,
)

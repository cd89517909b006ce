from cartwright.kit.errors import Unauthenticated


class CustomerTokenRequired(Unauthenticated):
    """The route is about the signed-in customer and the request carries no token."""

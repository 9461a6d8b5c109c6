"""docker's ``--pull`` policies (``run``, ``create``, a build's FROM): apart from ``image.service``
so that ``run`` checks the value without loading the image service (~15 ms of imports)."""

from ..errors import InvalidArgument

__all__ = ["PULL_POLICIES", "check_pull_policy"]

PULL_POLICIES = ("always", "missing", "never")


def check_pull_policy(pull: str) -> None:
    """docker's ``--pull`` values for ``run``/``create`` (its wording when another is given)."""
    if pull not in PULL_POLICIES:
        raise InvalidArgument(f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"')

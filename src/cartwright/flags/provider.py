"""The OpenFeature provider of Cartwright's flags: the `feature_flags` table, read into
each process's memory by `Flags` (service.py) every `CARTWRIGHT_FLAG_REFRESH_INTERVAL_S`.

Evaluation never waits on the database: `resolve_boolean_details` reads the snapshot the
last refresh left. A flag with a row takes the row's value (reason CACHED), a known flag
without one its default (reason DEFAULT); an unknown key is FLAG_NOT_FOUND and answers the
caller's default. Flags are boolean only; the evaluation context is not used yet (a
per-channel override would read its `channel` attribute, ADR 0023).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from cartwright.flags.known import KnownFlag

NAME = "cartwright-database"


def _variant(value: bool) -> str:
    return "on" if value else "off"


class DatabaseFlagProvider(AbstractProvider):
    def __init__(self, known: Mapping[str, KnownFlag]) -> None:
        super().__init__()
        self._known = known
        # key -> enabled, for the known flags that have a row; replaced whole by `load`.
        self._values: Mapping[str, bool] = {}

    def load(self, values: Mapping[str, bool]) -> None:
        """Take a new snapshot (one assignment: an evaluation sees the old or the new)."""
        self._values = {k: v for k, v in values.items() if k in self._known}

    def value(self, key: str) -> tuple[bool, bool]:
        """(enabled, from the database) for a known flag."""
        if key in self._values:
            return self._values[key], True
        return self._known[key].default, False

    def get_metadata(self) -> Metadata:
        return Metadata(name=NAME)

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        if flag_key not in self._known:
            return FlagResolutionDetails(
                default_value,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"no feature flag {flag_key!r}",
                reason=Reason.ERROR,
            )
        value, stored = self.value(flag_key)
        return FlagResolutionDetails(
            value, reason=Reason.CACHED if stored else Reason.DEFAULT, variant=_variant(value)
        )

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return FlagResolutionDetails(
            default_value,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"feature flag {flag_key!r}: Cartwright's flags are boolean",
            reason=Reason.ERROR,
        )

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return FlagResolutionDetails(
            default_value,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"feature flag {flag_key!r}: Cartwright's flags are boolean",
            reason=Reason.ERROR,
        )

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return FlagResolutionDetails(
            default_value,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"feature flag {flag_key!r}: Cartwright's flags are boolean",
            reason=Reason.ERROR,
        )

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return FlagResolutionDetails(
            default_value,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"feature flag {flag_key!r}: Cartwright's flags are boolean",
            reason=Reason.ERROR,
        )

"""The refusals particular to rendering remixes (the shared ones live in :mod:`remix.errors`)."""

from __future__ import annotations

from remix.errors import RemixError


class LicenceRequired(RemixError):
    """The requested render is longer than the 30 s free clip limit and no purchase covers it."""

    status_code = 402


class RemixSpecRejected(RemixError):
    """The spec is valid on its own but does not fit this track or this use; the detail names the field."""

    status_code = 422


class EncoderUnavailable(RemixError):
    """The audio encoder failed on the server; the request itself was fine and may be retried."""

    status_code = 503

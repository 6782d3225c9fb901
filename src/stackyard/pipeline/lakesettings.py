"""S3 settings of the lake: the S3 sink's ``SINK_S3_*`` variables, overridable by options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stackyard.settings import Env

ENV = Env("SINK_S3_")  # the S3 sink's own variables


class LakeError(Exception):
    """A failure the user can fix; the message is one line saying what went wrong."""


@dataclass(frozen=True)
class LakeSettings:
    endpoint: str = ""  # empty: AWS S3 in `region`
    region: str = "us-east-1"
    bucket: str = "stackyard-lake"
    addressing: str = "path"  # or "virtual"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    ca_bundle: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LakeSettings:
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = ENV.load(cls, env, **given)  # SINK_S3_<FIELD>; empty counts as unset
        settings.check()
        return settings

    @property
    def anonymous(self) -> bool:
        return not (self.access_key and self.secret_key)

    @property
    def endpoint_url(self) -> str:
        """The endpoint with its scheme (https when none is written); AWS when empty."""
        if not self.endpoint:
            return f"https://s3.{self.region}.amazonaws.com"
        return self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}"

    def check(self) -> None:
        if self.addressing not in ("path", "virtual"):
            raise LakeError(f"addressing {self.addressing!r}: expected path or virtual")
        if not self.bucket:
            raise LakeError("no bucket: set SINK_S3_BUCKET or --bucket")
        if bool(self.access_key) != bool(self.secret_key):
            raise LakeError("give both the access key and the secret key, or neither (anonymous)")
        url = urlsplit(self.endpoint_url)
        if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
            raise LakeError(f"endpoint {self.endpoint!r}: expected http(s)://host[:port]")

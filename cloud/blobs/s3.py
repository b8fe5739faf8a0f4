"""An S3-compatible blob store (AWS S3, MinIO, Ceph RGW, OSS/COS in S3 mode): path-style
requests signed with AWS Signature Version 4 over aiohttp, no SDK.

Objects are ``<prefix><hex[0:2]>/<hex[2:4]>/<hex>`` in one bucket, like the filesystem
store's files. A PUT is atomic on the server (an object is whole or absent) and carries the
payload's SHA-256 (``x-amz-content-sha256``, which is the ref's digest), so the server refuses
bytes damaged on the way. Putting the same bytes again writes the same object. ``delete``
answers whether there was one (a HEAD first: S3 answers 204 to any DELETE).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit

import aiohttp
import structlog

from cloud.blobs.store import PREFIX, parse_ref
from contract import Clock, SystemClock

log = structlog.get_logger(__name__)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT_S = 30.0


class S3Error(RuntimeError):
    """The server answered something other than success or not-found."""

    def __init__(self, method: str, key: str, status: int, body: str) -> None:
        super().__init__(f"S3 {method} {key}: HTTP {status} {body[:300]}")
        self.status = status


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(method: str, host: str, path: str, headers: dict[str, str], payload_sha256: str,
            access_key: str, secret_key: str, region: str, now: datetime,
            service: str = "s3") -> dict[str, str]:
    """``headers`` plus ``x-amz-date``, ``x-amz-content-sha256`` and ``Authorization`` (AWS
    SigV4, no query string). ``path`` is already URI-encoded."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    canonical = "\n".join([method, path, "", *(f"{n}:{signed[n]}" for n in names), "",
                           ";".join(names), payload_sha256])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service),
                "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in signed.items() if k != "host"}
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return out


class S3BlobStore:
    """A ``BlobStore`` in an S3 bucket: ``endpoint`` ``http(s)://host[:port]``, path-style."""

    def __init__(self, endpoint: str, bucket: str, access_key: str, secret_key: str, *,
                 region: str = "us-east-1", prefix: str = "", clock: Clock | None = None,
                 timeout_s: float = TIMEOUT_S) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._keys = (access_key, secret_key)
        self.region = region
        self._clock = clock or SystemClock()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"S3BlobStore({self._base!r}, {self.bucket!r}, prefix={self.prefix!r})"

    def key(self, ref: str) -> str:
        digest = parse_ref(ref)
        return f"{self.prefix}{digest[0:2]}/{digest[2:4]}/{digest}"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _request(self, method: str, key: str, body: bytes = b"",
                       headers: dict[str, str] | None = None,
                       payload_sha256: str = EMPTY_SHA256) -> tuple[int, bytes]:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        path = "/" + quote(f"{self.bucket}/{key}", safe="/-_.~")
        signed = sign_v4(method, self._host, path, headers or {}, payload_sha256, *self._keys,
                         self.region, self._clock.now())
        async with self._http.request(method, self._base + path, data=body or None,
                                      headers=signed, skip_auto_headers=["Content-Type"]
                                      ) as resp:
            return resp.status, await resp.read()

    async def put(self, data: bytes, *, content_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        ref = PREFIX + digest
        key = self.key(ref)
        status, body = await self._request("PUT", key, data, {"content-type": content_type},
                                           digest)
        if status != 200:
            raise S3Error("PUT", key, status, body.decode("utf-8", "replace"))
        return ref

    async def get(self, ref: str) -> bytes | None:
        key = self.key(ref)
        status, body = await self._request("GET", key)
        if status == 404:
            return None
        if status != 200:
            raise S3Error("GET", key, status, body.decode("utf-8", "replace"))
        return body

    async def exists(self, ref: str) -> bool:
        key = self.key(ref)
        status, _ = await self._request("HEAD", key)
        if status not in (200, 404):
            raise S3Error("HEAD", key, status, "")
        return status == 200

    async def delete(self, ref: str) -> bool:
        if not await self.exists(ref):
            return False
        key = self.key(ref)
        status, body = await self._request("DELETE", key)
        if status not in (200, 204, 404):
            raise S3Error("DELETE", key, status, body.decode("utf-8", "replace"))
        return True

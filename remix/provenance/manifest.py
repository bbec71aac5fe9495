"""Signed provenance manifests: C2PA embedded in PNG, JPEG, WAV and MP3; a signed JSON sidecar otherwise.

The manifest carries one custom assertion, ``org.remix.provenance``, with the render's public id, its
watermark id, the model id and training-manifest hash (visuals), the consent grant ids relied on, the
licence id (paid renders) and the RemixSpec hash, plus a standard ``c2pa.actions`` "created" action.
C2PA binds the manifest to the file's bytes, so any change to the content after signing makes the
manifest *invalid*, which verification reports as tampering.

Opus (Ogg) is not a format C2PA can embed in; for it the service issues a *sidecar*: a JSON document
with the same assertion and the output's SHA-256, signed with the same ES256 key (ECDSA P-256 over the
canonical JSON) and carrying the certificate chain, so it is checked the same way.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from remix import __version__
from remix.provenance.keys import SigningCredentials

ASSERTION_LABEL = "org.remix.provenance"
SIDECAR_FORMAT = "remix.provenance.sidecar/1"
C2PA_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "wav": "audio/wav", "mp3": "audio/mpeg"}
TRAINED_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/composite"

# The native C2PA library is not documented as re-entrant for one signer; renders run in a thread pool.
_c2pa_lock = threading.Lock()


class ManifestState(StrEnum):
    """What the manifest check concluded."""

    trusted = "trusted"  # signature valid and issued by this service's trust anchors
    valid_untrusted = "valid_untrusted"  # signature valid, but not by a certificate we trust
    tampered = "tampered"  # a manifest is there, but the file or the manifest changed after signing
    absent = "absent"  # no manifest at all


@dataclass(frozen=True)
class ManifestCheck:
    state: ManifestState
    assertion: dict[str, Any] | None
    problems: list[str]
    kind: str  # "c2pa", "sidecar" or "none"


def build_manifest(assertion: dict[str, Any], media_type: str, *, generated: bool) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "remix", "version": __version__}],
        "title": f"Remix render {assertion['render_id']}",
        "format": media_type,
        "assertions": [
            {"label": ASSERTION_LABEL, "data": assertion},
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": TRAINED_MEDIA if generated else COMPOSITE_MEDIA}
            ]}},
        ],
    }


def _context(credentials: SigningCredentials) -> Any:
    import c2pa

    config: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}
    if credentials.trust_anchors_pem:
        config["trust"] = {"trust_anchors": credentials.trust_anchors_pem.decode()}
        config["verify"] = {"verify_trust": True}
    return c2pa.Context(c2pa.Settings.from_dict(config))


def embed_c2pa(data: bytes, file_format: str, assertion: dict[str, Any], credentials: SigningCredentials,
               *, generated: bool, timestamp_url: str | None = None) -> bytes:
    """``data`` (a PNG, JPEG, WAV or MP3 file) with a signed C2PA manifest embedded."""
    import c2pa

    media_type = C2PA_FORMATS[file_format]
    manifest = build_manifest(assertion, media_type, generated=generated)
    with _c2pa_lock:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, credentials.chain_pem, credentials.key_pem,
                                   timestamp_url)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest, context=_context(credentials)) as builder:
            out = io.BytesIO()
            builder.sign(signer, media_type, io.BytesIO(data), out)
    return out.getvalue()


def read_c2pa(data: bytes, media_type: str, credentials: SigningCredentials) -> ManifestCheck:
    """Read and validate an embedded C2PA manifest."""
    import c2pa

    try:
        with _c2pa_lock, c2pa.Reader(media_type, io.BytesIO(data), context=_context(credentials)) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            active = reader.get_active_manifest() or {}
    except c2pa.C2paError.ManifestNotFound:
        return ManifestCheck(ManifestState.absent, None, [], "none")
    except (c2pa.C2paError, KeyError, ValueError, TypeError) as exc:
        # A manifest store that cannot even be parsed was there once and has been damaged (an edited store
        # can lose its active manifest, which c2pa-python reports as a KeyError).
        return ManifestCheck(ManifestState.tampered, None, [f"manifest unreadable: {exc}"], "c2pa")
    assertion = next((a.get("data") for a in active.get("assertions", []) if a.get("label") == ASSERTION_LABEL),
                     None)
    failures = results.get("activeManifest", {}).get("failure", []) if isinstance(results, dict) else []
    problems = [f"{f.get('code')}: {f.get('explanation', '')}" for f in failures]
    if state == "Trusted":
        return ManifestCheck(ManifestState.trusted, assertion, problems, "c2pa")
    untrusted_only = all(str(f.get("code", "")).startswith("signingCredential") for f in failures)
    if state == "Valid" or (failures and untrusted_only):
        return ManifestCheck(ManifestState.valid_untrusted, assertion, problems, "c2pa")
    return ManifestCheck(ManifestState.tampered, assertion, problems or [f"validation state {state}"], "c2pa")


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_sidecar(assertion: dict[str, Any], output_sha256: str, media_type: str,
                 credentials: SigningCredentials) -> dict[str, Any]:
    """A signed JSON manifest for an output C2PA cannot embed in."""
    body = {"format": SIDECAR_FORMAT, "media_type": media_type, "output_sha256": output_sha256,
            "assertions": {ASSERTION_LABEL: assertion}, "generator": f"remix {__version__}"}
    signature = credentials.private_key.sign(_canonical(body), ec.ECDSA(hashes.SHA256()))
    return {**body, "signature": {"alg": "ES256", "value": base64.b64encode(signature).decode(),
                                  "certificate_chain": credentials.chain_pem.decode()}}


def verify_sidecar(sidecar: dict[str, Any], file_sha256: str, credentials: SigningCredentials) -> ManifestCheck:
    """Check a sidecar's signature, its certificate and that it names this very file."""
    problems: list[str] = []
    try:
        signature = sidecar["signature"]
        body = {k: v for k, v in sidecar.items() if k != "signature"}
        chain = x509.load_pem_x509_certificates(signature["certificate_chain"].encode())
        leaf_key = chain[0].public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey):
            raise ValueError("the sidecar's certificate is not an EC key")
        leaf_key.verify(base64.b64decode(signature["value"]), _canonical(body), ec.ECDSA(hashes.SHA256()))
        assertion = body["assertions"][ASSERTION_LABEL]
    except InvalidSignature:
        return ManifestCheck(ManifestState.tampered, None, ["sidecar signature does not match its content"],
                             "sidecar")
    except (KeyError, TypeError, ValueError) as exc:
        return ManifestCheck(ManifestState.tampered, None, [f"sidecar is malformed: {exc}"], "sidecar")
    if body.get("output_sha256") != file_sha256:
        return ManifestCheck(ManifestState.tampered, assertion, ["the file is not the one the sidecar was signed for"],
                             "sidecar")
    anchors = x509.load_pem_x509_certificates(credentials.trust_anchors_pem) if credentials.trust_anchors_pem else []
    issued_by_anchor = any(len(chain) > 1 and chain[-1] == anchor for anchor in anchors) and _chain_links(chain)
    if not issued_by_anchor:
        problems.append("signing certificate is not issued by this service's trust anchors")
        return ManifestCheck(ManifestState.valid_untrusted, assertion, problems, "sidecar")
    return ManifestCheck(ManifestState.trusted, assertion, problems, "sidecar")


def _chain_links(chain: list[x509.Certificate]) -> bool:
    try:
        for child, parent in itertools.pairwise(chain):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True

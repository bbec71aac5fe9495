"""The signing credentials of provenance manifests: configured ones, or a local CA made on first use.

C2PA (``c2pa-python``) needs a certificate chain, not a bare key: a leaf certificate that is not a
CA, has the digitalSignature key usage and an extended key usage C2PA accepts (emailProtection here),
and is issued by a CA whose certificate travels in the chain. The same ES256 key also signs the JSON
sidecar manifests of formats C2PA cannot embed in (Opus), so one certificate covers every output.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from remix.config import Settings
from remix.provenance.config import ProvenanceSettings

CA_NAME = "ca.pem"
CHAIN_NAME = "signing-chain.pem"
KEY_NAME = "signing-key.pem"


@dataclass(frozen=True)
class SigningCredentials:
    """PEM chain (leaf first), PEM private key and the PEM trust anchors a verifier should accept."""

    chain_pem: bytes
    key_pem: bytes
    trust_anchors_pem: bytes
    locally_generated: bool

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the provenance signing key must be an EC P-256 key (ES256)")
        return key

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Remix"),
    ])


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def generate_local_credentials() -> tuple[bytes, bytes, bytes]:
    """A fresh local CA and ES256 signing certificate: (CA PEM, chain PEM, key PEM)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Remix Local Provenance CA")).issuer_name(
            _name("Remix Local Provenance CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name("Remix Provenance Signer")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca_pem
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ca_pem, chain, key_pem


def _write_private(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def signing_credentials(settings: Settings, provenance: ProvenanceSettings) -> SigningCredentials:
    """The configured credentials, or the local ones (generated once, under a lock, on first use)."""
    if provenance.signing_cert and provenance.signing_key:
        anchors = provenance.trust_anchors.read_bytes() if provenance.trust_anchors else b""
        return SigningCredentials(provenance.signing_cert.read_bytes(), provenance.signing_key.read_bytes(),
                                  anchors, locally_generated=False)
    return _local_credentials(provenance.directory_for(settings).resolve())


@lru_cache(maxsize=8)
def _local_credentials(directory: Path) -> SigningCredentials:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".keys.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / KEY_NAME).exists():
            ca_pem, chain, key_pem = generate_local_credentials()
            _write_private(directory / CA_NAME, ca_pem, 0o644)
            _write_private(directory / CHAIN_NAME, chain, 0o644)
            _write_private(directory / KEY_NAME, key_pem, 0o600)  # written last: its presence means "complete"
    return SigningCredentials((directory / CHAIN_NAME).read_bytes(), (directory / KEY_NAME).read_bytes(),
                              (directory / CA_NAME).read_bytes(), locally_generated=True)

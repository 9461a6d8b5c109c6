"""Throwaway keys, certificates and htpasswd files for auth tests."""

from __future__ import annotations

import datetime

import bcrypt


def write_htpasswd(path: str, users: dict[str, str]) -> None:
    with open(path, "w") as f:
        for user, password in users.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
            f.write(f"{user}:{hashed}\n")


def _write_self_signed(key_path: str, cert_path: str, common_name: str, alt_names: list | None = None) -> None:
    """An EC P-256 key and a self-signed certificate for it (PEM), valid for a day. With
    ``alt_names`` it is a serving certificate that is also its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def write_signing_pair(key_path: str, cert_path: str, common_name: str = "lamina-token") -> None:
    """A key and self-signed certificate for signing tokens."""
    _write_self_signed(key_path, cert_path, common_name)


def write_server_pair(key_path: str, cert_path: str, host: str = "127.0.0.1") -> None:
    """A self-signed serving certificate for ``host`` (an IP address or a DNS name), usable as
    its own CA: put ``cert_path`` in a client's cert dir as ``ca.crt``."""
    import ipaddress

    from cryptography import x509

    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    _write_self_signed(key_path, cert_path, host, [alt])

"""The cluster PKI, generated on first start (as k3s does): CAs, the serving certificate, client certificates.

Layout under ``<data-dir>/tls``:
    server-ca.{crt,key}   signs serving certificates; clients trust it (kubeconfig certificate-authority-data)
    client-ca.{crt,key}   signs client certificates; the API server verifies client certs against it
    serving.{crt,key}     the API server's certificate (SANs: 127.0.0.1, localhost, hostname, local addresses,
                          the in-cluster names of the ``kubernetes`` Service and its ClusterIP)
    client-admin.{crt,key}  CN=system:admin, O=system:masters
    service-account.key   signs ServiceAccount tokens
Keys are ECDSA P-256: fast to generate, accepted by kubectl and the Python client.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import socket
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
LEAF_YEARS = 1


@dataclass(frozen=True, slots=True)
class PKI:
    dir: pathlib.Path

    @property
    def server_ca(self) -> pathlib.Path:
        return self.dir / "server-ca.crt"

    @property
    def client_ca(self) -> pathlib.Path:
        return self.dir / "client-ca.crt"

    @property
    def serving_cert(self) -> pathlib.Path:
        return self.dir / "serving.crt"

    @property
    def serving_key(self) -> pathlib.Path:
        return self.dir / "serving.key"

    @property
    def admin_cert(self) -> pathlib.Path:
        return self.dir / "client-admin.crt"

    @property
    def admin_key(self) -> pathlib.Path:
        return self.dir / "client-admin.key"

    @property
    def sa_key(self) -> pathlib.Path:
        return self.dir / "service-account.key"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_key(path: pathlib.Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _ensure_ca(pki: PKI, stem: str, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    crt, key = pki.dir / f"{stem}.crt", pki.dir / f"{stem}.key"
    if crt.exists() and key.exists():
        return x509.load_pem_x509_certificate(crt.read_bytes()), _load_key(key)
    k = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{cn}@{int(_now().timestamp())}")
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
            .sign(k, hashes.SHA256()))
    _write_private(key, _key_pem(k))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, k


def issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], *, cn: str, org: str | None = None,
          server: bool = False, client: bool = False, dns: list[str] | None = None,
          ips: list[str] | None = None) -> tuple[bytes, bytes]:
    """A leaf certificate signed by ``ca``: (cert PEM, key PEM)."""
    ca_cert, ca_key = ca
    k = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    b = (x509.CertificateBuilder().subject_name(_name(cn, org)).issuer_name(ca_cert.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=365 * LEAF_YEARS))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or ()]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or ()]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(k)


def local_addresses() -> list[str]:
    """IPv4/IPv6 addresses of this host's interfaces (from /proc, no extra dependency)."""
    addrs: set[str] = {"127.0.0.1"}
    try:
        host = socket.gethostname()
        for info in socket.getaddrinfo(host, None):
            addrs.add(str(info[4][0]))
    except OSError:
        pass
    try:
        import fcntl
        import struct
        for _idx, ifname in socket.if_nameindex():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    res = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", ifname.encode()[:15]))  # SIOCGIFADDR
                    addrs.add(socket.inet_ntoa(res[20:24]))
                except OSError:
                    continue
    except (OSError, ImportError):
        pass
    return sorted(a for a in addrs if "%" not in a)


def serving_sans(extra: list[str], service_ip: str) -> tuple[list[str], list[str]]:
    dns = ["localhost", socket.gethostname(), "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local"]
    ips = [*local_addresses(), service_ip]
    for e in extra:
        try:
            ipaddress.ip_address(e)
            ips.append(e)
        except ValueError:
            dns.append(e)
    return sorted(set(dns)), sorted(set(ips))


def ensure_pki(data_dir: pathlib.Path, *, extra_sans: list[str] | None = None,
               service_ip: str = "10.43.0.1") -> PKI:
    pki = PKI(data_dir / "tls")
    pki.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    server_ca = _ensure_ca(pki, "server-ca", "pybernetes-server-ca")
    client_ca = _ensure_ca(pki, "client-ca", "pybernetes-client-ca")
    dns, ips = serving_sans(extra_sans or [], service_ip)
    if not _has_sans(pki.serving_cert, dns, ips) or not pki.serving_key.exists():
        crt, key = issue(server_ca, cn="pybernetes", server=True, dns=dns, ips=ips)
        _write_private(pki.serving_key, key)
        pki.serving_cert.write_bytes(crt)
    if not pki.admin_cert.exists() or not pki.admin_key.exists():
        crt, key = issue(client_ca, cn="system:admin", org="system:masters", client=True)
        _write_private(pki.admin_key, key)
        pki.admin_cert.write_bytes(crt)
    if not pki.sa_key.exists():
        _write_private(pki.sa_key, _key_pem(ec.generate_private_key(ec.SECP256R1())))
    return pki


def issue_client(data_dir: pathlib.Path, *, cn: str, org: str | None = None) -> tuple[bytes, bytes]:
    """A client certificate from the cluster's client CA (for components and node agents)."""
    pki = PKI(data_dir / "tls")
    return issue(_ensure_ca(pki, "client-ca", "pybernetes-client-ca"), cn=cn, org=org, client=True)


def _has_sans(path: pathlib.Path, dns: list[str], ips: list[str]) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    if cert.not_valid_after_utc < _now() + datetime.timedelta(days=30):
        return False
    return set(dns) <= have_dns and set(ips) <= have_ips

"""HTTPS for the simulator: a certificate authority made in memory at start.

The client's default is HTTPS (the platform table's ``https://…:843``), and every public
sample client uses it, so a rehearsal over plain HTTP never exercised that path. With
``Simulator(tls=True)`` (``mobset-campaign simulator --tls``) the simulator makes a fresh
certificate authority with :mod:`trustme`, issues a certificate for ``127.0.0.1``, ``::1`` and
``localhost``, and writes the authority's PEM to a temporary file. Nothing trusts that
authority unless told to: the client takes the file as ``ca_bundle=`` or
``MOBSET_CA_BUNDLE`` (``sim.client()`` and ``sim.env()`` pass it), and verification stays on.
The file is removed when the simulator object goes away (or the process exits).
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import weakref
from dataclasses import dataclass

__all__ = ["Certificate", "make_certificate"]

logger = logging.getLogger("mobset_campaign.simulator")

#: The names the certificate is good for: every loopback name the simulator may listen on.
NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class Certificate:
    """The server side (``context``) and the file a client must trust (``ca_file``)."""

    context: ssl.SSLContext
    ca_file: str


def make_certificate(owner: object) -> Certificate:
    """A new authority and server certificate; the CA file lives as long as ``owner``."""
    import trustme  # loads the cryptography package: only when a simulator speaks TLS

    authority = trustme.CA(organization_name="mobset_campaign simulator")
    leaf = authority.issue_cert(*NAMES)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    fd, path = tempfile.mkstemp(prefix="mobset-simulator-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(authority.cert_pem.bytes())
    weakref.finalize(owner, _remove, path)
    return Certificate(context, path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # a temp file left behind is harmless; say so and go on
        logger.debug("could not remove %s: %s", path, exc)

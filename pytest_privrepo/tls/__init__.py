"""TLS material for ephemeral indexes: one trustme CA per session, server and client certificates."""

from .ca import DEFAULT_SERVER_HOSTS, TLS_MODES, CertificateAuthority, peer_subject

__all__ = ["CertificateAuthority", "TLS_MODES", "DEFAULT_SERVER_HOSTS", "peer_subject"]

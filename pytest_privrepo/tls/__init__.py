"""TLS material for ephemeral indexes: one trustme CA per session, server and client certificates."""

from .ca import CertificateAuthority, TLS_MODES, DEFAULT_SERVER_HOSTS, peer_subject

__all__ = ["CertificateAuthority", "TLS_MODES", "DEFAULT_SERVER_HOSTS", "peer_subject"]

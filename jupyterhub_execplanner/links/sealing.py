"""Tokens of linked accounts, encrypted at rest with JupyterHub's own mechanism.

The keys are ``$JUPYTERHUB_CRYPT_KEY`` as JupyterHub reads it (32-byte keys, hex or base64,
``;``-separated: the first encrypts, all decrypt, so keys can be rotated), used through
:class:`jupyterhub.crypto.CryptKeeper` (Fernet, from ``cryptography``).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.fernet import InvalidToken
from jupyterhub.crypto import KEY_ENV, CryptKeeper
from traitlets.config import Config


class SealingUnavailable(RuntimeError):
    """No key to encrypt tokens with: the message names the variable and how to make a key."""


class Sealer:
    """Encrypts and decrypts tokens (strings) with the keys of ``environ[JUPYTERHUB_CRYPT_KEY]``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        text = environ.get(KEY_ENV, "")
        try:
            keys = [k for k in text.split(";") if k.strip()]
            self._keeper = CryptKeeper(config=Config(), keys=keys)
        except ValueError as e:
            raise SealingUnavailable(
                f"${KEY_ENV} is not usable: {e} Make one with `openssl rand -hex 32`."
            ) from e
        if not keys:
            raise SealingUnavailable(
                f"Linked accounts keep tokens encrypted, and ${KEY_ENV} is not set in the broker's "
                "environment: set it in the hub's environment (make one with `openssl rand -hex 32`); "
                "setup_execplanner passes it on to the service."
            )

    def seal(self, token: str) -> str:
        return str(self._keeper.fernet.encrypt(token.encode("utf-8")).decode("ascii"))

    def open(self, sealed: str) -> str | None:
        """The token; None when it cannot be decrypted (the key changed): the link must be made again."""
        try:
            return str(self._keeper.fernet.decrypt(sealed.encode("ascii")).decode("utf-8"))
        except (InvalidToken, ValueError):
            return None

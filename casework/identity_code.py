"""The Finnish personal identity code (henkilötunnus): validation and its protected storage form.

The database never holds the plain code: a keyed HMAC finds a client by exact code, and an
AES-GCM ciphertext lets an authorised user see it. Both keys derive from POLKU_SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from casework.errors import CaseworkError

CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURIES = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900,
             "A": 2000, "B": 2000, "C": 2000, "D": 2000, "E": 2000, "F": 2000}
_SEALED_VERSION = b"\x01"
_AAD = b"polku identity code"


class InvalidIdentityCode(CaseworkError, ValueError):
    """The text is not a valid personal identity code; the message says what is wrong."""


@dataclass(frozen=True)
class IdentityCode:
    code: str  # normalised: upper case, no spaces
    birth_date: date


def normalise(text: str) -> str:
    return "".join(text.split()).upper()


def parse(text: str) -> IdentityCode:
    """The validated code, or InvalidIdentityCode naming the first problem found."""
    code = normalise(text)
    if len(code) != 11:
        raise InvalidIdentityCode(f"identity code must be 11 characters (DDMMYYCZZZQ), got {len(code)}")
    digits, sign, individual, check = code[:6], code[6], code[7:10], code[10]
    if not digits.isdigit():
        raise InvalidIdentityCode("the first six characters must be the birth date DDMMYY")
    if sign not in CENTURIES:
        raise InvalidIdentityCode(f"unknown century sign {sign!r}; expected one of + - A-F U-Y")
    if not individual.isdigit():
        raise InvalidIdentityCode("characters 8-10 must be the individual number")
    if int(individual) < 2:
        raise InvalidIdentityCode("individual number 000 and 001 are not used")
    try:
        birth = date(CENTURIES[sign] + int(digits[4:6]), int(digits[2:4]), int(digits[0:2]))
    except ValueError:
        raise InvalidIdentityCode(f"{digits} is not a real date of birth") from None
    expected = CHECK_CHARS[int(digits + individual) % 31]
    if check != expected:
        raise InvalidIdentityCode("the check character does not match; please check the code for typing errors")
    return IdentityCode(code=code, birth_date=birth)


def fictitious_code(birth: date, individual: int) -> str:
    """A checksum-valid code in the 900-999 series, which no real person has: for demo and test data."""
    if not 900 <= individual <= 999:
        raise ValueError("fictitious codes use individual numbers 900-999")
    sign = {1800: "+", 1900: "-", 2000: "A"}[birth.year // 100 * 100]
    digits = f"{birth:%d%m}{birth.year % 100:02d}{individual:03d}"
    return f"{digits[:6]}{sign}{digits[6:]}{CHECK_CHARS[int(digits) % 31]}"


def validation_error(text: str) -> str | None:
    """The problem with the code as a message, or None when it is valid (for form validation)."""
    try:
        parse(text)
    except InvalidIdentityCode as err:
        return str(err)
    return None


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


@dataclass(frozen=True)
class SealedCode:
    search_hash: str
    ciphertext: bytes


class IdentityCodeKeys:
    """The search key and the encryption key, both derived from the one secret in the settings."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("POLKU_SECRET_KEY must be at least 16 characters")
        self._search_key = _derive(secret, b"polku identity code search v1")
        self._aead = AESGCM(_derive(secret, b"polku identity code encryption v1"))

    def search_hash(self, text: str) -> str:
        """The keyed hash of the normalised code; equal codes give equal hashes under one key."""
        return hmac.new(self._search_key, normalise(text).encode(), hashlib.sha256).hexdigest()

    def seal(self, code: IdentityCode) -> SealedCode:
        nonce = os.urandom(12)
        ciphertext = _SEALED_VERSION + nonce + self._aead.encrypt(nonce, code.code.encode(), _AAD)
        return SealedCode(search_hash=self.search_hash(code.code), ciphertext=ciphertext)

    def reveal(self, ciphertext: bytes) -> str:
        """The plain code for an authorised display; the caller logs the access."""
        if ciphertext[:1] != _SEALED_VERSION:
            raise ValueError("unknown identity code ciphertext version")
        return self._aead.decrypt(ciphertext[1:13], ciphertext[13:], _AAD).decode()

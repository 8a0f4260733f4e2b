"""ingest.signature: the Zoho HMAC-SHA256 recipe, checked against an independent computation."""

from __future__ import annotations

import hashlib
import hmac

from tds_core.ingest import signature

SECRET = "abcdefghijkl123"
BODY = b'{"invoice": {"invoice_id": "460000000091001", "total": 216.5}}'


def independent(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_known_vector_without_params() -> None:
    expected = independent(SECRET, BODY)
    assert signature.sign(SECRET, [], BODY) == expected
    # a fixed vector, so a change of recipe cannot slip through unnoticed
    assert signature.sign("key", [], b"The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_query_params_are_sorted_by_key_and_concatenated() -> None:
    params = [("zeta", "1"), ("event", "updated"), ("alpha", "x y")]
    expected = independent(SECRET, b"alphax yeventupdatedzeta1" + BODY)
    assert signature.signing_string(params, BODY) == b"alphax yeventupdatedzeta1" + BODY
    assert signature.sign(SECRET, params, BODY) == expected
    assert signature.sign(SECRET, list(reversed(params)), BODY) == expected


def test_verify_accepts_the_right_signature_in_any_case() -> None:
    good = independent(SECRET, b"eventcreated" + BODY)
    assert signature.verify(SECRET, [("event", "created")], BODY, good)
    assert signature.verify(SECRET, [("event", "created")], BODY, good.upper())
    assert signature.verify(SECRET, [("event", "created")], BODY, f"  {good}\n")


def test_verify_refuses_wrong_signatures() -> None:
    good = independent(SECRET, BODY)
    assert not signature.verify(SECRET, [], BODY, good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert not signature.verify("another-secret-1", [], BODY, good)
    assert not signature.verify(SECRET, [], BODY + b" ", good)
    assert not signature.verify(SECRET, [("event", "created")], BODY, good)
    assert not signature.verify(SECRET, [], BODY, "")
    assert not signature.verify(SECRET, [], BODY, "not hex at all")

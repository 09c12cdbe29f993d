"""The STS keyset: the file format, its refusals, which key signs, and key material hygiene."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidecar.sts import Keyset, KeysetError, StsKey, new_keyset_json

from .support import KEY_NEW, KEY_OLD, keyset_json


def test_one_key_parses() -> None:
    ks = Keyset.from_json(keyset_json(KEY_OLD))
    assert list(ks.by_id) == ["2026-01"]
    key = ks.get("2026-01")
    assert key is not None and key.secret == bytes([1]) * 32
    assert key.created == datetime(2026, 1, 1, tzinfo=UTC)
    assert ks.signing is key
    assert not ks.ephemeral
    assert ks.get("nope") is None


@pytest.mark.parametrize("order", [(KEY_OLD, KEY_NEW), (KEY_NEW, KEY_OLD)])
def test_newest_key_signs_whatever_the_order(order) -> None:
    ks = Keyset.from_json(keyset_json(*order))
    assert ks.signing.id == "2026-07"
    assert set(ks.by_id) == {"2026-01", "2026-07"}


def test_same_created_time_breaks_tie_by_id() -> None:
    a = {**KEY_OLD, "id": "a"}
    b = {**KEY_NEW, "id": "b", "created": KEY_OLD["created"]}
    assert Keyset.from_json(keyset_json(b, a)).signing.id == "b"


def test_created_without_zone_is_utc_and_offsets_compare() -> None:
    naive = {**KEY_OLD, "created": "2026-03-01T00:00:00"}
    # 2026-03-01T01:00:00+02:00 is 2026-02-28T23:00Z: older than the naive (UTC) one.
    offset = {**KEY_NEW, "created": "2026-03-01T01:00:00+02:00"}
    ks = Keyset.from_json(keyset_json(naive, offset))
    assert ks.get(KEY_OLD["id"]).created.tzinfo is not None  # type: ignore[union-attr]
    assert ks.signing.id == KEY_OLD["id"]


def test_bytes_input_and_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(keyset_json(KEY_OLD, KEY_NEW))
    assert Keyset.load(path).signing.id == "2026-07"
    assert Keyset.from_json(path.read_bytes()).signing.id == "2026-07"


def test_missing_file_is_a_keyset_error(tmp_path: Path) -> None:
    with pytest.raises(KeysetError, match="cannot read"):
        Keyset.load(tmp_path / "absent.json")


SECRET = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected"),
        ('{"keys": {}}', "expected"),
        ('{"keys": []}', "at least one key"),
        ('{"keys": ["x"]}', "expected an object"),
        (json.dumps({"keys": [{"id": "", "secret_b64": SECRET, "created": "2026-01-01T00:00:00Z"}]}), "id"),
        (
            json.dumps({"keys": [{"id": "a b", "secret_b64": SECRET, "created": "2026-01-01T00:00:00Z"}]}),
            "id",
        ),
        (
            json.dumps({"keys": [{"id": "x" * 65, "secret_b64": SECRET, "created": "2026-01-01T00:00:00Z"}]}),
            "id",
        ),
        (json.dumps({"keys": [{"id": 7, "secret_b64": SECRET, "created": "2026-01-01T00:00:00Z"}]}), "id"),
        (
            json.dumps({"keys": [{"id": "k", "secret_b64": "%%%", "created": "2026-01-01T00:00:00Z"}]}),
            "base64",
        ),
        (
            json.dumps(
                {
                    "keys": [
                        {
                            "id": "k",
                            "secret_b64": base64.b64encode(b"k" * 31).decode(),
                            "created": "2026-01-01T00:00:00Z",
                        }
                    ]
                }
            ),
            "32",
        ),
        (json.dumps({"keys": [{"id": "k", "secret_b64": SECRET, "created": "yesterday"}]}), "RFC 3339"),
        (json.dumps({"keys": [{"id": "k", "secret_b64": SECRET}]}), "RFC 3339"),
        (
            json.dumps(
                {
                    "keys": [
                        {"id": "k", "secret_b64": SECRET, "created": "2026-01-01T00:00:00Z"},
                        {"id": "k", "secret_b64": SECRET, "created": "2026-02-01T00:00:00Z"},
                    ]
                }
            ),
            "twice",
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "keys-not-list",
        "empty",
        "key-not-object",
        "empty-id",
        "space-in-id",
        "id-too-long",
        "id-not-string",
        "bad-base64",
        "secret-too-short",
        "bad-created",
        "missing-created",
        "duplicate-id",
    ],
)
def test_unusable_keysets_are_refused(text: str, match: str) -> None:
    with pytest.raises(KeysetError, match=match):
        Keyset.from_json(text, "keys.json")


def test_id_of_64_allowed_characters_is_accepted() -> None:
    kid = "Ab0-_." + "z" * 58
    ks = Keyset.from_json(json.dumps({"keys": [{**KEY_OLD, "id": kid}]}))
    assert ks.signing.id == kid


def test_error_names_the_source_and_the_key() -> None:
    bad = json.dumps({"keys": [KEY_OLD, {**KEY_NEW, "secret_b64": "%%"}]})
    with pytest.raises(KeysetError, match=r"/etc/sts\.json: keys\[1\]\.secret_b64"):
        Keyset.from_json(bad, "/etc/sts.json")


def test_random_keyset_is_ephemeral_and_strong() -> None:
    a, b = Keyset.random(), Keyset.random()
    assert a.ephemeral and b.ephemeral
    assert len(a.signing.secret) >= 32
    assert a.signing.secret != b.signing.secret


def test_new_keyset_json_is_a_valid_one_key_file() -> None:
    text = new_keyset_json("2027-01", now=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    ks = Keyset.from_json(text)
    assert ks.signing.id == "2027-01"
    assert ks.signing.created == datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert json.loads(text)["keys"][0]["created"] == "2027-01-02T03:04:05Z"
    assert Keyset.from_json(new_keyset_json("x")).signing.secret != ks.signing.secret


def test_subkeys_differ_from_each_other_and_from_the_secret() -> None:
    key = Keyset.from_json(keyset_json(KEY_OLD)).signing
    assert len(key.token_key) == 32 and len(key.secret_key) == 32
    assert len({key.token_key, key.secret_key, key.secret}) == 3
    other = Keyset.from_json(keyset_json(KEY_NEW)).signing
    assert other.token_key != key.token_key and other.secret_key != key.secret_key


def test_repr_never_shows_the_secret() -> None:
    key = StsKey("k", b"\xfe" * 32, datetime(2026, 1, 1, tzinfo=UTC))
    text = repr(key)
    assert "k" in text
    assert "xfe" not in text and "secret" not in text
    assert base64.b64encode(key.secret).decode() not in text
